// js-sdk-check.js - runs the official @azure/keyvault-keys (4.x) against vault-mock over
// every route the engine and the compliance controls use: create (RSA 2048/3072/4096,
// RSA-HSM), import, get (latest and a version), update (tags, disable, enable), list and
// list versions with paging, wrap/unwrap (the engine's RSA-OAEP-256 and RSA-OAEP), a
// disabled key refusing crypto, encrypt/decrypt, sign/verify, the service identity
// refused the 14 operations it lacks (CMK-SOD-01), rotate, delete with its poller,
// deleted keys (get, list with paging), purge refused under purge protection, recover
// with its poller, and, on a second vault without purge protection, purge.
//
//   make interop            (vault-mock/tools/interop.sh: npm ci here, two fresh vaults)
//   NODE_PATH=vault-mock/tools/node_modules NODE_EXTRA_CA_CERTS=STATE/ca.pem \
//       node vault-mock/tools/js-sdk-check.js URL STATE/tokens.json [URL2 STATE2/tokens.json]
//
// URL and STATE come from the vault's ready line; URL2 is a vault started with
// --purge-protection off (its CA must be trusted too). Every step checks the exact
// outcome; the exit code is 0 when every step passed, 1 when one failed, 2 on usage.
const { KeyClient, CryptographyClient } = require("@azure/keyvault-keys");
const fs = require("fs");
const crypto = require("crypto");

const [url, tokensPath, url2, tokensPath2] = process.argv.slice(2);
if (!url || !tokensPath) {
  console.error("usage: js-sdk-check.js URL TOKENS.json [URL2 TOKENS2.json]");
  process.exit(2);
}
const readTokens = (p) => JSON.parse(fs.readFileSync(p, "utf8"));
const tokens = readTokens(tokensPath);
const credOf = (t, name) => ({
  getToken: async () => ({ token: t[name], expiresOnTimestamp: Date.now() + 3600e3 }),
});
const cred = (name) => credOf(tokens, name);
const opts = { disableChallengeResourceVerification: true };
const results = [];
const expect = (cond, what) => {
  if (!cond) throw new Error(what);
};
async function step(name, fn) {
  try {
    const detail = await fn();
    results.push(`ok   ${name}${detail ? ": " + detail : ""}`);
  } catch (e) {
    results.push(`FAIL ${name}: ${e.statusCode || ""} ${e.code || ""} ${e.message}`);
  }
}
// |fn| must be refused with HTTP |status| (and error code |code|, message part |text|, when
// given).
async function refused(fn, status, code, text) {
  try {
    await fn();
  } catch (e) {
    expect(e.statusCode === status, `answered ${e.statusCode} ${e.code}, want ${status}`);
    if (code) expect(e.code === code, `error code ${e.code}, want ${code}`);
    if (text) expect(String(e.message).includes(text), `message "${e.message}" lacks "${text}"`);
    return `${e.statusCode} ${e.code}`;
  }
  throw new Error(`allowed, want ${status}`);
}
async function collectPages(iter) {
  const pages = [];
  for await (const page of iter) pages.push(page.map((x) => x.name));
  return pages;
}

(async () => {
  const kc = new KeyClient(url, cred("keyofficer"), opts);
  const svc = new KeyClient(url, cred("dbservice"), opts);
  const dek = crypto.randomBytes(32);
  let key;
  await step("createRsaKey 2048 with tags", async () => {
    key = await kc.createRsaKey("sdk-key", { keySize: 2048, tags: { by: "sdk" } });
    expect(key.keyType === "RSA" && key.key.n.length === 256, `type ${key.keyType}`);
    return key.id;
  });
  for (const bits of [3072, 4096]) {
    await step(`createRsaKey ${bits}`, async () => {
      const k = await kc.createRsaKey(`sdk-${bits}`, { keySize: bits });
      expect(k.key.n.length === bits / 8, `modulus ${k.key.n.length} bytes`);
    });
  }
  await step("createRsaKey hsm 3072", async () => {
    const k = await kc.createRsaKey("sdk-hsm", { keySize: 3072, hsm: true });
    expect(k.keyType === "RSA-HSM", k.keyType);
    return k.keyType;
  });
  await step("createRsaKey 1024 refused (400)", async () =>
    refused(() => kc.createRsaKey("sdk-1024", { keySize: 1024 }), 400));
  await step("importKey (RSA JWK) and wrap/unwrap with it", async () => {
    const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwk = privateKey.export({ format: "jwk" });
    const b = (s) => Buffer.from(s, "base64url");
    const k = await kc.importKey("sdk-imp", {
      kty: "RSA", n: b(jwk.n), e: b(jwk.e), d: b(jwk.d), p: b(jwk.p), q: b(jwk.q),
      dp: b(jwk.dp), dq: b(jwk.dq), qi: b(jwk.qi),
    });
    expect(Buffer.from(k.key.n).equals(b(jwk.n)), "modulus differs");
    const cc = new CryptographyClient(k.id, cred("keyofficer"), opts);
    const w = await cc.wrapKey("RSA-OAEP-256", dek);
    // the private key never left this process: unwrap it here too
    const local = crypto.privateDecrypt(
      { key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      Buffer.from(w.result));
    expect(local.equals(dek), "the vault's wrap does not unwrap locally");
    return k.id;
  });
  await step("getKey latest and by version", async () => {
    const k = await kc.getKey("sdk-key");
    expect(k.id === key.id, "id differs");
    const v = await kc.getKey("sdk-key", { version: key.properties.version });
    expect(v.id === key.id, "versioned id differs");
    return `${k.keyType} ops=${k.keyOperations.join(",")} enabled=${k.properties.enabled}`;
  });
  await step("getKey of a missing key (404 KeyNotFound)", async () =>
    refused(() => kc.getKey("sdk-none"), 404, "KeyNotFound"));
  await step("updateKeyProperties (tags)", async () => {
    const k = await kc.updateKeyProperties("sdk-key", { tags: { by: "sdk", more: "yes" } });
    expect(k.properties.tags.more === "yes", JSON.stringify(k.properties.tags));
    return JSON.stringify(k.properties.tags);
  });
  await step("listPropertiesOfKeys (paged by 1)", async () => {
    const pages = await collectPages(kc.listPropertiesOfKeys().byPage({ maxPageSize: 1 }));
    const names = pages.flat();
    for (const n of ["sdk-key", "sdk-3072", "sdk-4096", "sdk-hsm", "sdk-imp"]) {
      expect(names.includes(n), `${n} not listed in [${names}]`);
    }
    expect(pages.length >= 5 && pages.every((p) => p.length <= 1), `pages ${pages.length}`);
    return `pages=${pages.length}`;
  });
  await step("listPropertiesOfKeyVersions (paged by 1)", async () => {
    await kc.createRsaKey("sdk-key", { keySize: 2048 });
    const pages = await collectPages(kc.listPropertiesOfKeyVersions("sdk-key").byPage({ maxPageSize: 1 }));
    expect(pages.length === 2 && pages.every((p) => p.length === 1), `pages ${JSON.stringify(pages)}`);
    return `pages=${pages.length}`;
  });
  await step("dbservice getKey, wrapKey/unwrapKey RSA-OAEP-256 (the engine's calls)", async () => {
    const k = await svc.getKey("sdk-key");
    const cc = new CryptographyClient(k.id, cred("dbservice"), opts);
    const w = await cc.wrapKey("RSA-OAEP-256", dek);
    expect(w.result.length === 256, `wrapped ${w.result.length} bytes`);
    const u = await cc.unwrapKey("RSA-OAEP-256", w.result);
    expect(Buffer.from(u.result).equals(dek), "mismatch");
    return `kid ${w.keyID}`;
  });
  await step("CryptographyClient(versionless kid) wrap RSA-OAEP (in the SDK) / unwrap (vault)", async () => {
    const cc = new CryptographyClient(`${url}/keys/sdk-key`, cred("keyofficer"), opts);
    const w = await cc.wrapKey("RSA-OAEP", dek);
    const u = await cc.unwrapKey("RSA-OAEP", w.result);
    expect(Buffer.from(u.result).equals(dek), "mismatch");
  });
  await step("disable: crypto refused (403, disabled key), enable: works again", async () => {
    const k = await kc.updateKeyProperties("sdk-key", { enabled: false });
    expect(k.properties.enabled === false, "still enabled");
    expect((await kc.getKey("sdk-key")).properties.enabled === false, "get says enabled");
    const cc = new CryptographyClient(k.id, cred("dbservice"), opts);
    const r = await refused(() => cc.wrapKey("RSA-OAEP-256", dek), 403, "Forbidden",
                            "not allowed on a disabled key");
    await kc.updateKeyProperties("sdk-key", { enabled: true });
    const w = await cc.wrapKey("RSA-OAEP-256", dek);
    expect(Buffer.from((await cc.unwrapKey("RSA-OAEP-256", w.result)).result).equals(dek), "mismatch");
    return r;
  });
  // RSA1_5 decryption is a padding oracle: the vault refuses it unless started with
  // --allow-rsa1_5 NAME for that key (vault-mock/README.md).
  await step("encrypt RSA1_5 (in the SDK) / decrypt (vault): refused by default", async () => {
    const cc = new CryptographyClient(key.id, cred("keyofficer"), opts);
    const e = await cc.encrypt({ algorithm: "RSA1_5", plaintext: dek });
    return refused(() => cc.decrypt({ algorithm: "RSA1_5", ciphertext: e.result }), 400,
                   "BadParameter", "padding oracle");
  });
  await step("sign/verify PS256 (vault) and signData (vault) / verifyData RS256 (in the SDK)", async () => {
    const cc = new CryptographyClient(key.id, cred("keyofficer"), opts);
    const digest = crypto.createHash("sha256").update("hello").digest();
    const s = await cc.sign("PS256", digest);
    const v = await cc.verify("PS256", digest, s.result);
    const s2 = await cc.signData("RS256", Buffer.from("hello"));
    const v2 = await cc.verifyData("RS256", Buffer.from("hello"), s2.result);
    expect(v.result && v2.result, "not verified");
  });
  // CMK-SOD-01: the service identity holds get, wrapKey and unwrapKey only
  const svcKey = new CryptographyClient(key.id, cred("dbservice"), opts);
  const refusals = {
    create: () => svc.createRsaKey("sdk-svc", { keySize: 2048 }),
    import: () => svc.importKey("sdk-svc", { kty: "RSA", n: Buffer.from([1]), e: Buffer.from([1, 0, 1]) }),
    update: () => svc.updateKeyProperties("sdk-key", { tags: { svc: "yes" } }),
    list: async () => { for await (const p of svc.listPropertiesOfKeys()) void p; },
    listversions: async () => { for await (const p of svc.listPropertiesOfKeyVersions("sdk-key")) void p; },
    rotate: () => svc.rotateKey("sdk-key"),
    delete: async () => (await svc.beginDeleteKey("sdk-key")).pollUntilDone(),
    listdeleted: async () => { for await (const p of svc.listDeletedKeys()) void p; },
    // (a missing key: the poller first GETs the key and stops if it exists)
    recover: async () => (await svc.beginRecoverDeletedKey("sdk-none")).pollUntilDone(),
    purge: () => svc.purgeDeletedKey("sdk-key"),
    // RSA-OAEP-256: the SDK encrypts RSA1_5 and RSA-OAEP locally once it has the public key
    encrypt: () => svcKey.encrypt({ algorithm: "RSA-OAEP-256", plaintext: dek }),
    decrypt: () => svcKey.decrypt({ algorithm: "RSA-OAEP", ciphertext: crypto.randomBytes(256) }),
    sign: () => svcKey.sign("RS256", crypto.randomBytes(32)),
    verify: () => svcKey.verify("RS256", crypto.randomBytes(32), crypto.randomBytes(256)),
  };
  await step("dbservice refused the 14 other operations (403 Forbidden)", async () => {
    const got = [];
    for (const [op, fn] of Object.entries(refusals)) {
      try {
        got.push(`${op} ${await refused(fn, 403, "Forbidden")}`);
      } catch (e) {
        throw new Error(`${op}: ${e.message}`);
      }
    }
    expect(got.length === 14, `${got.length} operations`);
    return `${got.length} refused`;
  });
  await step("rotateKey", async () => {
    const r = await kc.rotateKey("sdk-key");
    expect(r.properties.version !== key.properties.version, "same version");
    return r.properties.version;
  });
  await step("beginDeleteKey + poll (3 keys)", async () => {
    for (const n of ["sdk-hsm", "sdk-3072", "sdk-4096"]) {
      const p = await kc.beginDeleteKey(n, { intervalInMs: 100 });
      const d = await p.pollUntilDone();
      expect(d.name === n && d.properties.recoveryId && d.properties.deletedOn &&
             d.properties.scheduledPurgeDate, `deleted key ${n} lacks fields`);
    }
    await refused(() => kc.getKey("sdk-hsm"), 404, "KeyNotFound");
    return "deleted, get answers 404";
  });
  await step("getDeletedKey / listDeletedKeys (paged by 1)", async () => {
    const d = await kc.getDeletedKey("sdk-hsm");
    expect(d.name === "sdk-hsm", d.name);
    const pages = await collectPages(kc.listDeletedKeys().byPage({ maxPageSize: 1 }));
    const names = pages.flat();
    for (const n of ["sdk-hsm", "sdk-3072", "sdk-4096"]) expect(names.includes(n), `${n} not in [${names}]`);
    expect(pages.length >= 3 && pages.every((p) => p.length <= 1), `pages ${JSON.stringify(pages)}`);
    return `pages=${pages.length}: [${names}]`;
  });
  await step("purgeDeletedKey refused (purge protection)", async () =>
    refused(() => kc.purgeDeletedKey("sdk-hsm"), 403));
  await step("beginRecoverDeletedKey + poll", async () => {
    const p = await kc.beginRecoverDeletedKey("sdk-hsm", { intervalInMs: 100 });
    const k = await p.pollUntilDone();
    expect(k.name === "sdk-hsm", k.name);
    expect((await kc.getKey("sdk-hsm")).properties.enabled === true, "not back");
    await refused(() => kc.getDeletedKey("sdk-hsm"), 404);
    return k.name;
  });
  if (url2) {
    const kc2 = new KeyClient(url2, credOf(readTokens(tokensPath2), "keyofficer"), opts);
    await step("second vault (--purge-protection off): delete, purge, gone", async () => {
      await kc2.createRsaKey("sdk-pur", { keySize: 2048 });
      await (await kc2.beginDeleteKey("sdk-pur", { intervalInMs: 100 })).pollUntilDone();
      await kc2.purgeDeletedKey("sdk-pur");
      await refused(() => kc2.getDeletedKey("sdk-pur"), 404);
      await refused(() => kc2.getKey("sdk-pur"), 404);
      return "purged";
    });
  }
  for (const r of results) console.log(r);
  const failed = results.filter((r) => r.startsWith("FAIL")).length;
  console.log(`sdk-check: ${results.length - failed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
})();
