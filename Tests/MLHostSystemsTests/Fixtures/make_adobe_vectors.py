#!/usr/bin/env python3
"""Writes adobe_vectors.json: OAuth 1.0a signatures by oauthlib (HMAC-SHA256 and HMAC-SHA1, with the sandbox's
URL shape: a store code and bracketed searchCriteria) and Adobe I/O Events signatures made with `cryptography`
(two keys, RSA-SHA256 PKCS#1 v1.5 over the raw body), independently of mlhost.
Run from this folder: python3 make_adobe_vectors.py (needs oauthlib and cryptography)."""
import base64, json
from oauthlib.oauth1 import Client, SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

url = ("http://127.0.0.1:8080/rest/fr/V1/orders?searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bfield%5D"
       "=updated_at&searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bvalue%5D=2025-01-01%2000%3A00%3A00"
       "&searchCriteria%5BpageSize%5D=100&searchCriteria%5BcurrentPage%5D=1")

def sign(method):
    c = Client("ck-adobe", client_secret="cs+adobe/1", resource_owner_key="at-adobe", resource_owner_secret="ts&adobe",
               signature_method=method, nonce="n0nce-1", timestamp="1764547200")
    _, headers, _ = c.sign(url, http_method="GET")
    return headers["Authorization"]

keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]
def pem(k):
    return k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
body = json.dumps({"event_id": "e-1", "recipient_client_id": "client-xyz", "type": "com.adobe.commerce.observer.sales_order_save_after",
                   "event": {"data": {"value": {"entity_id": 7, "increment_id": "100000007", "grand_total": 124.95}}}},
                  separators=(",", ":"))
def rsa_sig(k, message):
    return base64.b64encode(k.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()

json.dump({
    "url": url,
    "sha256_authorization": sign(SIGNATURE_HMAC_SHA256),
    "sha1_authorization": sign(SIGNATURE_HMAC_SHA1),
    "io_body": body,
    "io_key1": pem(keys[0]), "io_key2": pem(keys[1]),
    "io_sig1": rsa_sig(keys[0], body.encode()), "io_sig2": rsa_sig(keys[1], body.encode()),
    "io_sig_other": rsa_sig(keys[2], body.encode()),
    "io_sig1_over_base64": rsa_sig(keys[0], base64.b64encode(body.encode())),
}, open("adobe_vectors.json", "w"), indent=2)
