/*
 * blob_chunk.c -- content-defined chunking and the hashes that name chunks
 * and payloads (definitions in blob.h).
 *
 * The chunker is FastCDC (Xia et al., USENIX ATC 2016): a gear hash
 * h = (h << 1) + gear[byte] rolls over the input; a cut falls where the
 * hash's top bits are all zero.  Cut-point skipping: nothing is hashed in
 * the first min_size bytes of a chunk.  Normalised chunking, level 2: before
 * avg_size the mask has log2(avg) + 2 bits (a cut is 4x less likely), after
 * it log2(avg) - 2 bits (4x more likely), which narrows the size spread
 * around avg_size.  We test the top bits rather than the paper's spread
 * masks: with the shift-left gear hash, bit i depends on the last i + 1
 * bytes, so the top bits see the whole 64-byte window.
 */
#include "core/blob.h"

#include <string.h>

#include <sodium.h>

/* 256 SplitMix64 outputs seeded with "gossip-b"; part of the protocol: a
 * different table cuts different chunks and so names payloads differently. */
static const uint64_t gear[256] = {
    UINT64_C(0x3eabd1c30a17e087), UINT64_C(0x417b53b92d9cf692), UINT64_C(0x1a326af07d02a63f),
    UINT64_C(0xdecb05befe66cb67), UINT64_C(0xad86149ad230e7b5), UINT64_C(0x6e8c5c2b18083486),
    UINT64_C(0x55bbc2483294a827), UINT64_C(0x928eb174d96b5c3f), UINT64_C(0xefc6d6a72e421676),
    UINT64_C(0x00902836b1c7dcad), UINT64_C(0x4d5dec8d1d277bf3), UINT64_C(0xb9911e90d7295c7f),
    UINT64_C(0x48004609969a10aa), UINT64_C(0x11a6545c372e6d06), UINT64_C(0x0156321716bd9b51),
    UINT64_C(0x347ae4f1c72dc24b), UINT64_C(0xb980e2b36fed7ddf), UINT64_C(0x20281dd9a3e1439f),
    UINT64_C(0x4d40397677e1229d), UINT64_C(0x2bb44de6a9700cfa), UINT64_C(0x390052f8a58f40f4),
    UINT64_C(0x42ff65bc5d9fa1ef), UINT64_C(0x7a349db28b27e1bd), UINT64_C(0x0ff9b9922c7e222c),
    UINT64_C(0xf69e1c85fa36ecb0), UINT64_C(0x56ee3d2bf65df82e), UINT64_C(0xc2a577120d17dead),
    UINT64_C(0x003dc98fd3aad5c1), UINT64_C(0x465ad4bf0980f595), UINT64_C(0xf7b54d892cca4691),
    UINT64_C(0xe1d1a9b009a7d985), UINT64_C(0x723ae68c4824f041), UINT64_C(0x6bc5a538fd380781),
    UINT64_C(0x3aa4b3d7daed9413), UINT64_C(0x72b547635d6a5785), UINT64_C(0xb9af61dbb181342e),
    UINT64_C(0x6d7d7f0b068acfa4), UINT64_C(0x528a90b251cc7de8), UINT64_C(0x2e2fbf6bd6e97ec3),
    UINT64_C(0x1d76f4cb070d6a0b), UINT64_C(0x590e5044e45960a0), UINT64_C(0x68890e3603beebd0),
    UINT64_C(0x0d7579155fe67024), UINT64_C(0xaff1265ab217c941), UINT64_C(0x6a94ad10854fbf95),
    UINT64_C(0xe6e5c0af496fb56c), UINT64_C(0xc617c29ae5124b19), UINT64_C(0x679bb9a9a87ce325),
    UINT64_C(0x37c72d8a8db7b02d), UINT64_C(0x30ac8feb8188891c), UINT64_C(0xe124b77a1bf474af),
    UINT64_C(0xcead58a5fd13750c), UINT64_C(0x639782a51ff811d4), UINT64_C(0x4a2a4e70d4c016d9),
    UINT64_C(0x9ed2f8362226a258), UINT64_C(0x259a62ff54f6d07a), UINT64_C(0x2b7ce3a8bc426c20),
    UINT64_C(0x253d8001733700fe), UINT64_C(0xa7085cf670684f19), UINT64_C(0x55f2e05f316bec2a),
    UINT64_C(0xc3108118a87c3cc4), UINT64_C(0xad7dd57757cc81be), UINT64_C(0x46b522ebb5709099),
    UINT64_C(0xf2f7db08bf9fe9ae), UINT64_C(0x713025b4487553c9), UINT64_C(0xecd53dc49e0bb921),
    UINT64_C(0xaf27d4e9eb74b031), UINT64_C(0x22115339a00f9400), UINT64_C(0x21d3d58707a75abc),
    UINT64_C(0xef52df418bd80aa5), UINT64_C(0x9d0b6ff9e7f928d1), UINT64_C(0x86d46cfb57342509),
    UINT64_C(0xae6fd0413bbef981), UINT64_C(0xb118a4b0b8c98907), UINT64_C(0x4fd7e7b63432462f),
    UINT64_C(0xa4cb6c2a087df525), UINT64_C(0x32cff02bb7e296ed), UINT64_C(0xd2691f43fc31589c),
    UINT64_C(0x93f37edb0eab6251), UINT64_C(0x086f47a527a62a09), UINT64_C(0x44eaeab0882dda85),
    UINT64_C(0x13b122b9c523038b), UINT64_C(0x0cc59a66988728db), UINT64_C(0x2fb76c00d5b18a0e),
    UINT64_C(0xc0b2a87637664c90), UINT64_C(0x3de0b65e8b6c6c05), UINT64_C(0x808f1d99b02554dd),
    UINT64_C(0xfec8f173790ef921), UINT64_C(0x0c35c1fe7c6b9f98), UINT64_C(0x0cb1fe984e07814d),
    UINT64_C(0x4fa94b8912a82ba2), UINT64_C(0x5b39054e9c26a3b0), UINT64_C(0xc644683357724a8a),
    UINT64_C(0x3f5a0351832d6471), UINT64_C(0x85e3a88bc0c1fd3c), UINT64_C(0x1c39c1a09c444f9f),
    UINT64_C(0xec13bd97dfea0686), UINT64_C(0x0014383347093a0e), UINT64_C(0x4c9361ba3d1c6b62),
    UINT64_C(0x6c9d8d783c4720e1), UINT64_C(0x248507af4b28c7d9), UINT64_C(0xfd02606a47097483),
    UINT64_C(0x387f256f28326d04), UINT64_C(0xfa4069053951a283), UINT64_C(0xc1ed07913f236778),
    UINT64_C(0x99651fcc9bf6e6f7), UINT64_C(0x439620c53d409e22), UINT64_C(0x51da607e641b59ba),
    UINT64_C(0x4b03bb1f91d16813), UINT64_C(0x2f40c326ffb56053), UINT64_C(0x69d157f70c8b818c),
    UINT64_C(0x378b6af05fc4fd7d), UINT64_C(0xad1c6ecb2eb7f7cd), UINT64_C(0xeb48ea665589d72d),
    UINT64_C(0x171bb1af8b484510), UINT64_C(0xf204b7fe439dfbd3), UINT64_C(0x09d51a2f00904ff9),
    UINT64_C(0x070f670982eba5d8), UINT64_C(0xe794c8ee610b15cd), UINT64_C(0x38f2774ca9eea1d9),
    UINT64_C(0xa88ded5ba76901c6), UINT64_C(0xf4f5dfa4bc87664e), UINT64_C(0x60626c83698426e0),
    UINT64_C(0x83b770a4284f8c30), UINT64_C(0xa444b3bc6e4bf8e5), UINT64_C(0xeb65011ceb84ee1f),
    UINT64_C(0x74afa51d7e6771cb), UINT64_C(0x33fa9d4d04400d8d), UINT64_C(0xaf0611c729e399f4),
    UINT64_C(0x38a61e43a881967b), UINT64_C(0xfa089d41003f9ce4), UINT64_C(0xbe143029ebf0e89c),
    UINT64_C(0xaff002d7b7873dcc), UINT64_C(0xb8179b3b221ca2f3), UINT64_C(0x8316741e43665cff),
    UINT64_C(0xf5f9ec191297dc52), UINT64_C(0x29943050a32ebd27), UINT64_C(0x585ff9892ed6a84e),
    UINT64_C(0xbb31874df3d9fff7), UINT64_C(0x411120f1449bc1cb), UINT64_C(0xc10b0a2dddc25c63),
    UINT64_C(0xb6f74a193224c97d), UINT64_C(0xa6bd216509169591), UINT64_C(0xa77d2ab2fcf94dcc),
    UINT64_C(0xbe62f4bbf4fd1d59), UINT64_C(0x3607acf64711ab12), UINT64_C(0x12c79d9104638238),
    UINT64_C(0xfc660b4fec6dfe59), UINT64_C(0xaf5c918fcda93528), UINT64_C(0x7862cbc72a12943f),
    UINT64_C(0xcabde54ddfd9c2e2), UINT64_C(0x51cd5f4b7cb8e72f), UINT64_C(0x4df0a2d960257e01),
    UINT64_C(0x4a106672e7bd658b), UINT64_C(0x6c2b4b9d932017c8), UINT64_C(0xf2e5ac243c222fbc),
    UINT64_C(0xcc31d59cf6f7c352), UINT64_C(0xa075c910e7ff7eaf), UINT64_C(0xd83af1d4c8b2abe2),
    UINT64_C(0x28fd8602a89aedaa), UINT64_C(0x4806f60db7489874), UINT64_C(0xa56b47bb5db1a74d),
    UINT64_C(0x362b1ee37a6c1b03), UINT64_C(0x878c3f702a8fa94e), UINT64_C(0x551aa5abc6c58ad6),
    UINT64_C(0xe7f36e3f3f6a6e66), UINT64_C(0xf8b9a9d5791fdf9d), UINT64_C(0xac5f13f043895846),
    UINT64_C(0xb1b3968d088d16b7), UINT64_C(0x5fe7c9f619c71f67), UINT64_C(0x8f257ebfcb6e03d0),
    UINT64_C(0xb27db0ecbc5acadb), UINT64_C(0xa4c14c7bbb1555c2), UINT64_C(0xf5b22b8d31c71a9f),
    UINT64_C(0x8b60c447b469e5f7), UINT64_C(0xfb8d99f52e7782ce), UINT64_C(0x9f2eb50d2ed50c71),
    UINT64_C(0x04a591a5c717cd15), UINT64_C(0xece17c62e488330c), UINT64_C(0x3b598a82d251d943),
    UINT64_C(0x178284ceb3c046e6), UINT64_C(0xbdb70cd423e72614), UINT64_C(0xa44dedf62dc20366),
    UINT64_C(0x9e2404b80beb8a27), UINT64_C(0x05f2dd8a5a8ac939), UINT64_C(0x61dfeb6acbc5e08f),
    UINT64_C(0x6e7cdc8da478e83b), UINT64_C(0xe274809c38fcc71f), UINT64_C(0xcae59c0f5b7f17bf),
    UINT64_C(0x179829cfefbb0153), UINT64_C(0xee1ebd4336f24c8d), UINT64_C(0x3603ac34d5f4de6c),
    UINT64_C(0x523536dcb0ed9ad3), UINT64_C(0x78194ce3268814c5), UINT64_C(0x82a8fc1460921c89),
    UINT64_C(0xc124a4b642f9560f), UINT64_C(0x757926373bd225be), UINT64_C(0xcffef3fd693e6594),
    UINT64_C(0x3b65fc34199c9535), UINT64_C(0x685b1e61faba0b8e), UINT64_C(0xde70f09ad374e308),
    UINT64_C(0xf5ffd6af80477a9f), UINT64_C(0x3df6d4043f8ac0ad), UINT64_C(0xabf072df8e6c110f),
    UINT64_C(0xdbb996e707c9629b), UINT64_C(0x16137c8c0eeb4321), UINT64_C(0x4a40937b5e570f90),
    UINT64_C(0x5db08126b0f32801), UINT64_C(0x5e3a8c0082e86a57), UINT64_C(0xab6fa304fb92dbfa),
    UINT64_C(0x7405076aeb1df784), UINT64_C(0xccddccc8b6e2c851), UINT64_C(0xf73dd4d2c48c9e7d),
    UINT64_C(0x74c5e2fa6590cdc1), UINT64_C(0xfd855c4b71f9aaaa), UINT64_C(0x9bf76ca65bf1f1ac),
    UINT64_C(0x36a9be13be05299a), UINT64_C(0x4ec4d11717dbc259), UINT64_C(0x53ccb28fec7bdb5f),
    UINT64_C(0xc9d998c7d1f1dcf7), UINT64_C(0xd3fd4423e2aa1e6b), UINT64_C(0x071616b90083f921),
    UINT64_C(0x8fa11ec0053a2543), UINT64_C(0x8fe0858ad9664be5), UINT64_C(0x94da30a34f203e9a),
    UINT64_C(0x4a05d942213e74d4), UINT64_C(0x1b65e45596bba00a), UINT64_C(0x766f866258461af0),
    UINT64_C(0x2582743aec31097b), UINT64_C(0xeeff78bae787ad13), UINT64_C(0xd18339ba8db4f670),
    UINT64_C(0x714ebb7184f78c1a), UINT64_C(0x45ba0bcb95a7d71c), UINT64_C(0x5f7ec8e4593f718f),
    UINT64_C(0x7943f82b96f67a14), UINT64_C(0x3eb1f671485434c2), UINT64_C(0xdc159f461219d045),
    UINT64_C(0x442bce2660deed21), UINT64_C(0x53e36965c3253d80), UINT64_C(0x3501d8f40d3ece12),
    UINT64_C(0xd54b56cb03d699ba), UINT64_C(0xffe9181ce01f9ce8), UINT64_C(0x315beda117381218),
    UINT64_C(0x50e62c22aa938e2b), UINT64_C(0x4170812da48b9ce9), UINT64_C(0x6ab49a6160d2f6af),
    UINT64_C(0x1b8df1603df46dd2), UINT64_C(0x7cb66bb9c68c6f7c), UINT64_C(0x14afabac332d1991),
    UINT64_C(0x42fe1f47e65ff514), UINT64_C(0xd02d8ce9b227fdb1), UINT64_C(0x8f95e73089973e3b),
    UINT64_C(0xa5e7597e888f8269), UINT64_C(0x0e9dc4c9d290469f), UINT64_C(0x1ca9fa66104e68c9),
    UINT64_C(0x36508f931ceac078),
};

int blob_chunking_check(const blob_chunking *c)
{
    if (!c || c->min_size < BLOB_FLOOR_MIN_CHUNK || c->min_size >= c->avg_size ||
        c->avg_size >= c->max_size || c->max_size > BLOB_CEIL_MAX_CHUNK ||
        (c->avg_size & (c->avg_size - 1)) != 0)
        return GOSSIP_ERR_INVALID;
    return 0;
}

static unsigned log2_u32(uint32_t v)
{
    unsigned b = 0;
    while (v > 1) {
        v >>= 1;
        b++;
    }
    return b;
}

static uint64_t top_mask(unsigned bits)
{
    return bits == 0 ? 0 : ~UINT64_C(0) << (64 - bits);
}

size_t blob_chunk_cut(const blob_chunking *c, const uint8_t *data, size_t len)
{
    if (len <= c->min_size)
        return len;
    size_t end = len < c->max_size ? len : c->max_size;
    size_t normal = end < c->avg_size ? end : c->avg_size;
    unsigned bits = log2_u32(c->avg_size);
    uint64_t mask_small = top_mask(bits + 2), mask_large = top_mask(bits - 2);
    uint64_t h = 0;
    size_t i = c->min_size;
    for (; i < normal; i++) {
        h = (h << 1) + gear[data[i]];
        if ((h & mask_small) == 0)
            return i + 1;
    }
    for (; i < end; i++) {
        h = (h << 1) + gear[data[i]];
        if ((h & mask_large) == 0)
            return i + 1;
    }
    return end;
}

void blob_hash_chunk(const uint8_t *data, size_t len, uint8_t out[BLOB_HASH_BYTES])
{
    crypto_generichash(out, BLOB_HASH_BYTES, data, len, NULL, 0);
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static const char manifest_tag[] = "gossip-blob-v1";
static const char short_id_tag[] = "gossip-blob-sid-v1";

void blob_hash_manifest(uint64_t size, uint32_t count, const uint8_t *hashes,
                        const uint32_t *lens, uint8_t out[BLOB_HASH_BYTES])
{
    crypto_generichash_state st;
    uint8_t head[12], len_le[4];
    crypto_generichash_init(&st, NULL, 0, BLOB_HASH_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)manifest_tag,
                              sizeof manifest_tag - 1);
    put_le(head, size, 8);
    put_le(head + 8, count, 4);
    crypto_generichash_update(&st, head, sizeof head);
    for (uint32_t i = 0; i < count; i++) {
        put_le(len_le, lens[i], 4);
        crypto_generichash_update(&st, hashes + (size_t)i * BLOB_HASH_BYTES, BLOB_HASH_BYTES);
        crypto_generichash_update(&st, len_le, sizeof len_le);
    }
    crypto_generichash_final(&st, out, BLOB_HASH_BYTES);
}

uint32_t blob_payload_hash(const blob_chunking *c, const uint8_t *data, size_t len,
                           uint8_t out[BLOB_HASH_BYTES])
{
    /* The manifest streams into the hash: no arrays needed. */
    crypto_generichash_state st;
    uint8_t head[12], entry[BLOB_HASH_BYTES + 4];
    uint32_t count = 0;
    for (size_t off = 0; off < len; count++)
        off += blob_chunk_cut(c, data + off, len - off);
    crypto_generichash_init(&st, NULL, 0, BLOB_HASH_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)manifest_tag,
                              sizeof manifest_tag - 1);
    put_le(head, len, 8);
    put_le(head + 8, count, 4);
    crypto_generichash_update(&st, head, sizeof head);
    for (size_t off = 0; off < len;) {
        size_t n = blob_chunk_cut(c, data + off, len - off);
        blob_hash_chunk(data + off, n, entry);
        put_le(entry + BLOB_HASH_BYTES, n, 4);
        crypto_generichash_update(&st, entry, sizeof entry);
        off += n;
    }
    crypto_generichash_final(&st, out, BLOB_HASH_BYTES);
    return count;
}

void blob_short_id_key(const uint8_t payload_hash[BLOB_HASH_BYTES], uint64_t nonce,
                       uint8_t key[16])
{
    crypto_generichash_state st;
    uint8_t nonce_le[8], full[BLOB_HASH_BYTES];
    crypto_generichash_init(&st, NULL, 0, BLOB_HASH_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)short_id_tag,
                              sizeof short_id_tag - 1);
    crypto_generichash_update(&st, payload_hash, BLOB_HASH_BYTES);
    put_le(nonce_le, nonce, 8);
    crypto_generichash_update(&st, nonce_le, sizeof nonce_le);
    crypto_generichash_final(&st, full, BLOB_HASH_BYTES);
    memcpy(key, full, 16);
}

uint64_t blob_short_id(const uint8_t key[16], const uint8_t chunk_hash[BLOB_HASH_BYTES])
{
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, chunk_hash, BLOB_HASH_BYTES, key);
    uint64_t v = 0;
    for (unsigned i = 0; i < BLOB_SHORT_ID_BYTES; i++)
        v |= (uint64_t)out[i] << (8 * i);
    return v;
}

void blob_hash_to_hex(const uint8_t hash[BLOB_HASH_BYTES], char out[BLOB_HEX_BYTES + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < BLOB_HASH_BYTES; i++) {
        out[2 * i] = digits[hash[i] >> 4];
        out[2 * i + 1] = digits[hash[i] & 15];
    }
    out[BLOB_HEX_BYTES] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int blob_hash_from_hex(const char *hex, size_t len, uint8_t hash[BLOB_HASH_BYTES])
{
    if (!hex || len != BLOB_HEX_BYTES)
        return GOSSIP_ERR_INVALID;
    uint8_t tmp[BLOB_HASH_BYTES];
    for (unsigned i = 0; i < BLOB_HASH_BYTES; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return GOSSIP_ERR_INVALID;
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(hash, tmp, sizeof tmp);
    return 0;
}
