"""A DKIM key pair made for a test run with openssl, and signing with dkimpy (never a key kept in the repo)."""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass

import dkim


@dataclass(frozen=True)
class DkimKey:
    """A private key (PEM) and the DNS TXT record publishing its public half."""

    private_pem: bytes
    record: str

    def sign(self, raw: bytes, domain: str, selector: str = "test", **options) -> bytes:
        """Return the message with a DKIM-Signature of domain prepended."""
        signature = dkim.sign(raw, selector.encode(), domain.encode(), self.private_pem,
                              include_headers=[b"from", b"to", b"subject", b"message-id"], **options)
        return signature + raw


def make_dkim_key(bits: int = 2048) -> DkimKey:
    """Return a fresh RSA key pair in DKIM form."""
    private = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}",
                              "-outform", "PEM"], capture_output=True, check=True).stdout
    public_der = subprocess.run(["openssl", "pkey", "-pubout", "-outform", "DER"], input=private,
                                capture_output=True, check=True).stdout
    return DkimKey(private, f"v=DKIM1; k=rsa; p={base64.b64encode(public_der).decode('ascii')}")
