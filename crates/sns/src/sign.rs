//! Message signatures: SignatureVersion 1 (SHA1withRSA) and 2 (SHA256withRSA) over AWS's
//! canonical string, with a localbridge RSA key made at start and its self-signed X.509
//! certificate, which localbridge serves at the messages' `SigningCertURL`.
//!
//! The string to sign (SNS Developer Guide, "Verifying the signatures of Amazon SNS messages"):
//! each field's name, a newline, its value, a newline, in byte order of the names —
//! `Message`, `MessageId`, `Subject` (only when present), `Timestamp`, `TopicArn`, `Type` for a
//! notification; `Message`, `MessageId`, `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`,
//! `Type` for subscription and unsubscribe confirmations.
//!
//! The key is 2048-bit RSA, as AWS's. Making one takes a moment, so it is made on a thread of
//! its own when the service starts; the first signature waits for it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use rsa::pkcs1v15::SigningKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer as _};
use rsa::RsaPrivateKey;
use sha1::Sha1;

/// The size of the signing key, in bits (AWS's certificates carry 2048-bit RSA keys).
pub const KEY_BITS: usize = 2048;

/// The file name of the certificate, in the form AWS names its own
/// (`SimpleNotificationService-<id>.pem`).
pub const CERT_FILE: &str = "SimpleNotificationService-localbridge.pem";

/// The fields a signature covers, by message type.
#[derive(Debug, Clone, Copy, Default)]
pub struct Canonical<'a> {
    pub message: &'a str,
    pub message_id: &'a str,
    pub subject: Option<&'a str>,
    pub subscribe_url: Option<&'a str>,
    pub timestamp: &'a str,
    pub token: Option<&'a str>,
    pub topic_arn: &'a str,
    pub kind: &'a str,
}

impl Canonical<'_> {
    /// The string to sign.
    pub fn string(&self) -> String {
        let mut out = String::with_capacity(self.message.len() + 256);
        let mut field = |name: &str, value: &str| {
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        };
        field("Message", self.message);
        field("MessageId", self.message_id);
        if self.kind == "Notification" {
            if let Some(s) = self.subject {
                field("Subject", s);
            }
        } else {
            field("SubscribeURL", self.subscribe_url.unwrap_or(""));
        }
        field("Timestamp", self.timestamp);
        if self.kind != "Notification" {
            field("Token", self.token.unwrap_or(""));
        }
        field("TopicArn", self.topic_arn);
        field("Type", self.kind);
        out
    }
}

struct Keys {
    sha1: SigningKey<Sha1>,
    sha256: SigningKey<Sha256>,
    cert_pem: String,
    #[cfg(test)]
    key: RsaPrivateKey,
}

/// The signing key and its certificate, made once.
pub struct Signer {
    keys: OnceLock<Option<Keys>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("ready", &self.keys.get().is_some())
            .finish()
    }
}

impl Signer {
    /// A signer whose key is made now, on a thread of its own.
    pub fn start() -> Arc<Self> {
        let signer = Arc::new(Self { keys: OnceLock::new() });
        let s = Arc::clone(&signer);
        let spawned = std::thread::Builder::new()
            .name("sns-signing-key".into())
            .spawn(move || {
                s.keys();
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "the signing key will be made on first use");
        }
        signer
    }

    fn keys(&self) -> Option<&Keys> {
        self.keys
            .get_or_init(|| match make_keys() {
                Ok(k) => Some(k),
                Err(e) => {
                    tracing::error!(error = %e, "no SNS signing key: messages go unsigned");
                    None
                }
            })
            .as_ref()
    }

    /// The base64 signature of `text` (`version` "2": SHA256withRSA, otherwise SHA1withRSA).
    pub fn sign(&self, version: &str, text: &str) -> String {
        let Some(keys) = self.keys() else {
            return String::new();
        };
        let bytes = if version == "2" {
            keys.sha256.sign(text.as_bytes()).to_vec()
        } else {
            keys.sha1.sign(text.as_bytes()).to_vec()
        };
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// The certificate, PEM.
    pub fn certificate_pem(&self) -> Option<String> {
        self.keys().map(|k| k.cert_pem.clone())
    }
}

fn make_keys() -> Result<Keys, String> {
    use std::str::FromStr as _;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    use x509_cert::der::EncodePem as _;
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::{EncodePublicKey as _, SubjectPublicKeyInfoOwned};
    use x509_cert::time::Validity;

    let mut rng = rand_core::OsRng;
    let key = RsaPrivateKey::new(&mut rng, KEY_BITS).map_err(|e| e.to_string())?;
    let public = key.to_public_key();
    let spki_der = public.to_public_key_der().map_err(|e| e.to_string())?;
    let spki = SubjectPublicKeyInfoOwned::try_from(spki_der.as_bytes()).map_err(|e| e.to_string())?;
    let serial = SerialNumber::from(u32::try_from(lb_core::ids::random_u64() >> 33).unwrap_or(1) + 1);
    // Ten years: a long-running emulator never sees it expire.
    let validity = Validity::from_now(Duration::from_secs(10 * 365 * 86_400)).map_err(|e| e.to_string())?;
    let subject = Name::from_str("CN=sns.amazonaws.com,O=localbridge").map_err(|e| e.to_string())?;
    let signer = SigningKey::<Sha256>::new(key.clone());
    let builder =
        CertificateBuilder::new(Profile::Root, serial, validity, subject, spki, &signer).map_err(|e| e.to_string())?;
    let cert = builder.build::<rsa::pkcs1v15::Signature>().map_err(|e| e.to_string())?;
    let cert_pem = cert
        .to_pem(x509_cert::der::pem::LineEnding::LF)
        .map_err(|e| e.to_string())?;
    Ok(Keys {
        sha1: SigningKey::new(key.clone()),
        sha256: signer,
        cert_pem,
        #[cfg(test)]
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier as _;

    #[test]
    fn canonical_strings_follow_aws_field_order() {
        let n = Canonical {
            message: "hello",
            message_id: "id",
            subject: Some("subj"),
            timestamp: "2024-01-01T00:00:00.000Z",
            topic_arn: "arn:aws:sns:us-east-1:000000000000:t",
            kind: "Notification",
            ..Canonical::default()
        };
        assert_eq!(
            n.string(),
            "Message\nhello\nMessageId\nid\nSubject\nsubj\nTimestamp\n2024-01-01T00:00:00.000Z\nTopicArn\narn:aws:sns:us-east-1:000000000000:t\nType\nNotification\n"
        );
        let n = Canonical { subject: None, ..n };
        assert!(!n.string().contains("Subject"));
        let c = Canonical {
            message: "m",
            message_id: "id",
            subscribe_url: Some("http://x/?a"),
            timestamp: "ts",
            token: Some("tok"),
            topic_arn: "arn",
            kind: "SubscriptionConfirmation",
            ..Canonical::default()
        };
        assert_eq!(
            c.string(),
            "Message\nm\nMessageId\nid\nSubscribeURL\nhttp://x/?a\nTimestamp\nts\nToken\ntok\nTopicArn\narn\nType\nSubscriptionConfirmation\n"
        );
    }

    #[test]
    fn signatures_verify_with_the_public_key() {
        let signer = Signer { keys: OnceLock::new() };
        let pem = signer.certificate_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let public = signer.keys().unwrap().key.to_public_key();
        let b64 = base64::engine::general_purpose::STANDARD;
        let s2 = b64.decode(signer.sign("2", "text")).unwrap();
        VerifyingKey::<Sha256>::new(public.clone())
            .verify(b"text", &Signature::try_from(s2.as_slice()).unwrap())
            .unwrap();
        let s1 = b64.decode(signer.sign("1", "text")).unwrap();
        VerifyingKey::<Sha1>::new(public)
            .verify(b"text", &Signature::try_from(s1.as_slice()).unwrap())
            .unwrap();
    }
}
