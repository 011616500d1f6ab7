#!/usr/bin/env python3
"""Writes vectors.json: webhook signatures computed with Python's hmac and cryptography, independently of mlhost.

Run from this folder: python3 make_vectors.py (needs the `cryptography` package)."""
import base64, hashlib, hmac, json
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

body = '{"id":5678901234,"email":"zoé@example.com","total_price":"124.95","line_items":[{"sku":"TS-M","quantity":2}]}'
raw = body.encode()

def sig(secret):
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
def rsa_sig(message):
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()

json.dump({
    "body": body,
    "hmac_current": sig("hush-current"),
    "hmac_previous": sig("hush-old"),
    "hmac_other": sig("someone-else"),
    "rsa_public_pem": pem,
    "rsa_signature": rsa_sig(base64.b64encode(raw)),
    "rsa_signature_raw_body": rsa_sig(raw),
}, open("vectors.json", "w"), indent=2, ensure_ascii=False)
