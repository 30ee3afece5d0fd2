// js-sdk-check.js - runs the official @azure/keyvault-keys (4.x) against vault-mock:
// create, get, update, list with paging, wrap/unwrap, encrypt/decrypt, sign/verify,
// a refused operation, rotate, delete with its poller, deleted keys, purge refusal,
// recover with its poller. Not part of `make test` (it needs npm).
//
//   d=$(mktemp -d) && (cd $d && npm install @azure/keyvault-keys@4)
//   NODE_PATH=$d/node_modules NODE_EXTRA_CA_CERTS=STATE/ca.pem \
//       node vault-mock/tools/js-sdk-check.js URL STATE/tokens.json
//
// URL and STATE come from the vault's ready line; the exit code is 0 when every step passed.
const { KeyClient, CryptographyClient } = require("@azure/keyvault-keys");
const fs = require("fs");
const crypto = require("crypto");
const [url, tokensPath] = process.argv.slice(2);
const tokens = JSON.parse(fs.readFileSync(tokensPath, "utf8"));
const cred = (name) => ({
  getToken: async () => ({ token: tokens[name], expiresOnTimestamp: Date.now() + 3600e3 }),
});
const opts = { disableChallengeResourceVerification: true };
const results = [];
async function step(name, fn) {
  try {
    const detail = await fn();
    results.push(`ok   ${name}${detail ? ": " + detail : ""}`);
  } catch (e) {
    results.push(`FAIL ${name}: ${e.statusCode || ""} ${e.code || ""} ${e.message}`);
  }
}
(async () => {
  const kc = new KeyClient(url, cred("keyofficer"), opts);
  let key;
  await step("createRsaKey", async () => {
    key = await kc.createRsaKey("sdk-key", { keySize: 2048, tags: { by: "sdk" } });
    return key.id;
  });
  await step("createRsaKey hsm 3072", async () => (await kc.createRsaKey("sdk-hsm", { keySize: 3072, hsm: true })).keyType);
  await step("getKey", async () => {
    const k = await kc.getKey("sdk-key");
    if (k.id !== key.id) throw new Error("id differs");
    return `${k.keyType} ops=${k.keyOperations.join(",")} enabled=${k.properties.enabled}`;
  });
  await step("updateKeyProperties", async () => {
    const k = await kc.updateKeyProperties("sdk-key", { tags: { by: "sdk", more: "yes" } });
    return JSON.stringify(k.properties.tags);
  });
  await step("listPropertiesOfKeys", async () => {
    const names = [];
    for await (const p of kc.listPropertiesOfKeys()) names.push(p.name);
    return names.join(",");
  });
  await step("listPropertiesOfKeyVersions (paged by 1)", async () => {
    await kc.createRsaKey("sdk-key", { keySize: 2048 });
    const v = [];
    for await (const page of kc.listPropertiesOfKeyVersions("sdk-key").byPage({ maxPageSize: 1 })) v.push(page.length);
    return `pages=${v.length}`;
  });
  const dek = crypto.randomBytes(32);
  await step("CryptographyClient(dbservice) wrapKey/unwrapKey RSA-OAEP-256", async () => {
    const cc = new CryptographyClient(key.id, cred("dbservice"), opts);
    const w = await cc.wrapKey("RSA-OAEP-256", dek);
    const u = await cc.unwrapKey("RSA-OAEP-256", w.result);
    if (!Buffer.from(u.result).equals(dek)) throw new Error("mismatch");
    return `kid ${w.keyID}`;
  });
  await step("CryptographyClient(versionless kid) wrap RSA-OAEP / unwrap", async () => {
    const cc = new CryptographyClient(`${url}/keys/sdk-key`, cred("keyofficer"), opts);
    const w = await cc.wrapKey("RSA-OAEP", dek);
    const u = await cc.unwrapKey("RSA-OAEP", w.result);
    if (!Buffer.from(u.result).equals(dek)) throw new Error("mismatch");
  });
  await step("encrypt/decrypt RSA1_5", async () => {
    const cc = new CryptographyClient(key.id, cred("keyofficer"), opts);
    const e = await cc.encrypt({ algorithm: "RSA1_5", plaintext: dek });
    const d = await cc.decrypt({ algorithm: "RSA1_5", ciphertext: e.result });
    if (!Buffer.from(d.result).equals(dek)) throw new Error("mismatch");
  });
  await step("sign/verify PS256 and signData/verifyData RS256", async () => {
    const cc = new CryptographyClient(key.id, cred("keyofficer"), opts);
    const digest = crypto.createHash("sha256").update("hello").digest();
    const s = await cc.sign("PS256", digest);
    const v = await cc.verify("PS256", digest, s.result);
    const s2 = await cc.signData("RS256", Buffer.from("hello"));
    const v2 = await cc.verifyData("RS256", Buffer.from("hello"), s2.result);
    if (!v.result || !v2.result) throw new Error("not verified");
  });
  await step("dbservice sign is refused (403)", async () => {
    const cc = new CryptographyClient(key.id, cred("dbservice"), opts);
    try { await cc.sign("RS256", crypto.randomBytes(32)); } catch (e) { return `${e.statusCode} ${e.code}`; }
    throw new Error("sign was allowed");
  });
  await step("rotateKey", async () => (await kc.rotateKey("sdk-key")).properties.version);
  await step("beginDeleteKey + poll", async () => {
    const p = await kc.beginDeleteKey("sdk-hsm", { intervalInMs: 100 });
    const d = await p.pollUntilDone();
    return `recoveryId ${d.properties.recoveryId} deletedOn ${d.properties.deletedOn.toISOString()} scheduledPurgeDate ${d.properties.scheduledPurgeDate.toISOString()}`;
  });
  await step("getDeletedKey / listDeletedKeys", async () => {
    const d = await kc.getDeletedKey("sdk-hsm");
    const names = [];
    for await (const k of kc.listDeletedKeys()) names.push(k.name);
    return `${d.name} in [${names}]`;
  });
  await step("purgeDeletedKey refused (purge protection)", async () => {
    try { await kc.purgeDeletedKey("sdk-hsm"); } catch (e) { return `${e.statusCode} ${e.code}`; }
    throw new Error("purge allowed");
  });
  await step("beginRecoverDeletedKey + poll", async () => {
    const p = await kc.beginRecoverDeletedKey("sdk-hsm", { intervalInMs: 100 });
    return (await p.pollUntilDone()).name;
  });
  for (const r of results) console.log(r);
  process.exit(results.some((r) => r.startsWith("FAIL")) ? 1 : 0);
})();
