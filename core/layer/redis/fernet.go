package redis

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// multiFernet is the symmetric encryption of channels_redis'
// symmetric_encryption_keys: Python cryptography's MultiFernet over one
// Fernet per key, each key being base64url(sha256(key)). It encrypts with the
// first key and decrypts with any, so keys can be rotated.
//
// A Fernet token (https://github.com/fernet/spec) is base64url of
// 0x80 | big-endian seconds (8) | IV (16) | AES-128-CBC ciphertext (PKCS#7) |
// HMAC-SHA256 of everything before it (32).
type multiFernet struct {
	keys []fernetKey
}

type fernetKey struct {
	sign, crypt []byte // 16 bytes each
}

const (
	fernetVersion   = 0x80
	fernetMaxSkew   = 60 * time.Second // cryptography's _MAX_CLOCK_SKEW
	fernetHeaderLen = 1 + 8 + aes.BlockSize
)

var errInvalidToken = errors.New("fernet: invalid token (wrong key, tampered or expired)")

func newMultiFernet(keys []string) *multiFernet {
	if len(keys) == 0 {
		return nil
	}
	f := &multiFernet{}
	for _, k := range keys {
		sum := sha256.Sum256([]byte(k))
		f.keys = append(f.keys, fernetKey{sign: sum[:16], crypt: sum[16:]})
	}
	return f
}

func (f *multiFernet) encrypt(plain []byte, now time.Time) ([]byte, error) {
	k := f.keys[0]
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	raw := make([]byte, fernetHeaderLen, fernetHeaderLen+len(plain)+pad+sha256.Size)
	raw[0] = fernetVersion
	binary.BigEndian.PutUint64(raw[1:9], uint64(now.Unix()))
	iv := raw[9:fernetHeaderLen]
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k.crypt)
	if err != nil {
		return nil, err
	}
	body := append(append([]byte(nil), plain...), make([]byte, pad)...)
	for i := len(plain); i < len(body); i++ {
		body[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(body, body)
	raw = append(raw, body...)
	mac := hmac.New(sha256.New, k.sign)
	mac.Write(raw)
	raw = mac.Sum(raw)
	out := make([]byte, base64.URLEncoding.EncodedLen(len(raw)))
	base64.URLEncoding.Encode(out, raw)
	return out, nil
}

// decrypt checks the token with each key in turn. ttl 0 means no age limit.
func (f *multiFernet) decrypt(token []byte, ttl time.Duration, now time.Time) ([]byte, error) {
	raw := make([]byte, base64.URLEncoding.DecodedLen(len(token)))
	n, err := base64.URLEncoding.Decode(raw, token)
	if err != nil {
		return nil, errInvalidToken
	}
	raw = raw[:n]
	if len(raw) < fernetHeaderLen+aes.BlockSize+sha256.Size || raw[0] != fernetVersion ||
		(len(raw)-fernetHeaderLen-sha256.Size)%aes.BlockSize != 0 {
		return nil, errInvalidToken
	}
	ts := time.Unix(int64(binary.BigEndian.Uint64(raw[1:9])), 0)
	if ttl > 0 && ts.Add(ttl).Before(now) {
		return nil, errInvalidToken
	}
	if now.Add(fernetMaxSkew).Before(ts) {
		return nil, errInvalidToken
	}
	signed, sum := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	for _, k := range f.keys {
		mac := hmac.New(sha256.New, k.sign)
		mac.Write(signed)
		if subtle.ConstantTimeCompare(mac.Sum(nil), sum) == 1 {
			return k.open(signed)
		}
	}
	return nil, errInvalidToken
}

func (k fernetKey) open(signed []byte) ([]byte, error) {
	block, err := aes.NewCipher(k.crypt)
	if err != nil {
		return nil, err
	}
	iv, body := signed[9:fernetHeaderLen], append([]byte(nil), signed[fernetHeaderLen:]...)
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(body, body)
	pad := int(body[len(body)-1])
	if pad < 1 || pad > aes.BlockSize {
		return nil, errInvalidToken
	}
	for _, b := range body[len(body)-pad:] {
		if int(b) != pad {
			return nil, errInvalidToken
		}
	}
	return body[:len(body)-pad], nil
}
