#!/usr/bin/env python3
"""Writes auth_vectors.json: OAuth 1.0a signatures by oauthlib and an HS256 JWT by Python's hmac, independently
of mlhost, with fixed nonces and timestamps. Run from this folder: python3 make_auth_vectors.py (needs oauthlib)."""
import base64, hashlib, hmac, json
from oauthlib.oauth1 import Client, SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_QUERY

adobe = Client("ck123", client_secret="cs&456", resource_owner_key="tok789", resource_owner_secret="ts/012",
               signature_method=SIGNATURE_HMAC_SHA256, nonce="nonce-abc", timestamp="1736690531")
url = ("https://shop.example.com/rest/V1/orders?searchCriteria%5BpageSize%5D=100"
       "&searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bfield%5D=updated_at&a=x%20y")
_, headers, _ = adobe.sign(url, http_method="GET")

woo = Client("ck_woo", client_secret="cs_woo", signature_method=SIGNATURE_HMAC_SHA256,
             signature_type=SIGNATURE_TYPE_QUERY, nonce="nonce-woo", timestamp="1736690531")
woo_url, _, _ = woo.sign("http://woo.example.com/wp-json/wc/v3/orders?per_page=100&after=2025-01-01T00:00:00", http_method="GET")

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
claims = b64url(json.dumps({"iss": "app-id", "sub": "ADMIN", "aud": "", "iat": 1736690531, "exp": 1736690831},
                           separators=(",", ":")).encode())
sig = b64url(hmac.new(b"x3-secret", f"{header}.{claims}".encode(), hashlib.sha256).digest())

json.dump({
    "adobe_url": url,
    "adobe_authorization": headers["Authorization"],
    "woo_signed_url": woo_url,
    "jwt": f"{header}.{claims}.{sig}",
}, open("auth_vectors.json", "w"), indent=2)
