/*
 * ieee1619.h - IEEE 1619-2007 Annex B, XTS-AES-256 vectors 10..14, shared by
 * the embedded KAT suite and the native XTS suite: one 512-byte data unit
 * (00 01 .. ff 00 01 .. ff) under one key, data unit sequence numbers
 * ff, ffff, .., ffffffffff (the tweak is the number's 128-bit little-endian
 * form).
 */
#ifndef CMK_TESTLIB_IEEE1619_H
#define CMK_TESTLIB_IEEE1619_H

#include <stddef.h>
#include <stdint.h>

#define IEEE1619_UNIT_BYTES 512
#define IEEE1619_VECTORS    5

struct ieee1619_vector {
    int number;         /* the vector's number in Annex B */
    uint64_t seq;       /* data unit sequence number */
    const char *ct_hex; /* 512-byte ciphertext, hex */
};

/* Key1 || Key2, 64 bytes in hex. */
extern const char ieee1619_key_hex[];
extern const struct ieee1619_vector ieee1619_vectors[IEEE1619_VECTORS];

/* The vectors' plaintext: byte i is i mod 256. */
void ieee1619_plaintext(uint8_t pt[IEEE1619_UNIT_BYTES]);

#endif
