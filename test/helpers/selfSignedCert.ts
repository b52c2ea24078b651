import { generate } from "selfsigned";

export interface SelfSignedCertificate {
  /** PEM private key. */
  key: string;
  /** PEM certificate, for 127.0.0.1 and localhost: what a TLS server presents, and what a
   * client that should trust it adds as its CA. */
  cert: string;
}

/** A fresh self-signed certificate for loopback TLS servers (made at test time, never stored). */
export async function selfSignedCertificate(): Promise<SelfSignedCertificate> {
  const pems = await generate([{ name: "commonName", value: "localhost" }], {
    keyType: "ec",
    curve: "P-256",
    notAfterDate: new Date(Date.now() + 24 * 3600 * 1000),
    extensions: [
      { name: "basicConstraints", cA: true },
      { name: "keyUsage", digitalSignature: true, keyCertSign: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }, { type: 2, value: "localhost" }] },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
