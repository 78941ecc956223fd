//! An account's signing keys, opened: ed25519 (ed25519-dalek), RSA-2048 and ECDSA P-256
//! (OpenSSL), and the four signature algorithms Keygen signs responses, webhooks and license
//! files with. Private keys never leave this module except sealed.

use super::{CryptoError, MasterKey};
use aggregates::account::SealedKeyPair;
use ed25519_dalek::{Signer as _, SigningKey};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer};
use projections::accounts::AccountRow;
use zeroize::Zeroizing;

pub use aggregates::signing::SignatureAlgorithm;

/// A new RSA-2048 pair (private half PKCS#1 PEM, sealed; public half SPKI PEM) and a new ECDSA
/// P-256 pair (private half PKCS#8 PEM, sealed; public half SPKI PEM), as Keygen keeps them.
/// RSA key generation takes tens of milliseconds: call it off the async threads.
pub fn generate_rsa_and_ecdsa(master: &MasterKey) -> Result<(SealedKeyPair, SealedKeyPair), CryptoError> {
    let rsa = Rsa::generate(2048)?;
    let rsa_pair = SealedKeyPair {
        public_key: pem_text(rsa.public_key_to_pem()?)?,
        private_key_sealed: master.seal(&rsa.private_key_to_pem()?),
    };
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let ecdsa = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let ecdsa_pair = SealedKeyPair {
        public_key: pem_text(ecdsa.public_key_to_pem()?)?,
        private_key_sealed: master.seal(&ecdsa.private_key_to_pem_pkcs8()?),
    };
    Ok((rsa_pair, ecdsa_pair))
}

fn pem_text(pem: Vec<u8>) -> Result<String, CryptoError> {
    String::from_utf8(pem).map_err(|_| CryptoError::Key("a PEM that is not text".into()))
}

/// An account's private keys, opened with the master key.
pub struct Keyring {
    ed25519: SigningKey,
    rsa: PKey<Private>,
    ecdsa: PKey<Private>,
}

impl Keyring {
    /// Opens the sealed keys of an account row that has all three pairs.
    pub fn open(master: &MasterKey, row: &AccountRow) -> Result<Self, CryptoError> {
        // The opened secrets are wiped when dropped, once the keys are parsed.
        let seed = Zeroizing::new(master.open(&row.ed25519_private_key_sealed)?);
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Key("an ed25519 seed of the wrong length".into()))?;
        let seed = Zeroizing::new(seed);
        let sealed = |key: &Option<String>| {
            let sealed = key.as_deref().ok_or(CryptoError::Key("a key pair is missing".into()))?;
            master.open(sealed).map(Zeroizing::new)
        };
        Self::from_parts(
            *seed,
            &sealed(&row.rsa2048_private_key_sealed)?,
            &sealed(&row.ecdsa_private_key_sealed)?,
        )
    }

    /// A keyring of an ed25519 seed, an RSA private key (PKCS#1 PEM) and an ECDSA P-256 private
    /// key (PKCS#8 PEM).
    pub fn from_parts(ed25519_seed: [u8; 32], rsa_pem: &[u8], ecdsa_pem: &[u8]) -> Result<Self, CryptoError> {
        let rsa = Rsa::private_key_from_pem(rsa_pem)?;
        Ok(Self {
            ed25519: SigningKey::from_bytes(&ed25519_seed),
            rsa: PKey::from_rsa(rsa)?,
            ecdsa: PKey::private_key_from_pem(ecdsa_pem)?,
        })
    }

    /// `message` signed with the algorithm's key.
    pub fn sign(&self, algorithm: SignatureAlgorithm, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let openssl =
            |key: &PKey<Private>, configure: &dyn Fn(&mut Signer) -> Result<(), openssl::error::ErrorStack>| {
                let mut signer = Signer::new(MessageDigest::sha256(), key)?;
                configure(&mut signer)?;
                Ok::<_, CryptoError>(signer.sign_oneshot_to_vec(message)?)
            };
        match algorithm {
            SignatureAlgorithm::Ed25519 => Ok(self.ed25519.sign(message).to_bytes().to_vec()),
            SignatureAlgorithm::RsaSha256 => openssl(&self.rsa, &|s| s.set_rsa_padding(Padding::PKCS1)),
            SignatureAlgorithm::RsaPssSha256 => openssl(&self.rsa, &|s| {
                s.set_rsa_padding(Padding::PKCS1_PSS)?;
                s.set_rsa_mgf1_md(MessageDigest::sha256())?;
                s.set_rsa_pss_saltlen(RsaPssSaltlen::MAXIMUM_LENGTH)
            }),
            SignatureAlgorithm::EcdsaP256 => openssl(&self.ecdsa, &|_| Ok(())),
        }
    }

    /// RSA "private encrypt" of `data` with PKCS#1 v1.5 type-1 padding and no digest (what
    /// RSA_2048_PKCS1_ENCRYPT keys are): at most 245 bytes fit a 2048-bit key.
    pub fn rsa_private_encrypt(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let rsa = self.rsa.rsa()?;
        let mut out = vec![0u8; rsa.size() as usize];
        let len = rsa.private_encrypt(data, &mut out, Padding::PKCS1)?;
        out.truncate(len);
        Ok(out)
    }
}

impl aggregates::signing::Sign for Keyring {
    fn sign(&self, algorithm: SignatureAlgorithm, message: &[u8]) -> Result<Vec<u8>, String> {
        Keyring::sign(self, algorithm, message).map_err(|e| e.to_string())
    }

    fn rsa_private_encrypt(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        Keyring::rsa_private_encrypt(self, data).map_err(|e| e.to_string())
    }
}

/// A new account's keyring and its public keys (ed25519 hex, RSA PEM, ECDSA PEM), for tests.
#[cfg(test)]
pub(crate) fn test_keyring() -> (Keyring, [String; 3]) {
    let master = MasterKey::from_hex(&MasterKey::generate_hex()).unwrap();
    let keys = super::generate_account_keys(&master).unwrap();
    let (rsa, ecdsa) = (keys.rsa2048.unwrap(), keys.ecdsa_p256.unwrap());
    let row = AccountRow {
        id: "a".into(),
        slug: "a".into(),
        name: "A".into(),
        protected: 0,
        ed25519_public_key: keys.ed25519_public_key.clone(),
        ed25519_private_key_sealed: keys.ed25519_private_key_sealed,
        token_secret_sealed: keys.token_secret_sealed,
        rsa2048_public_key: Some(rsa.public_key.clone()),
        rsa2048_private_key_sealed: Some(rsa.private_key_sealed),
        ecdsa_public_key: Some(ecdsa.public_key.clone()),
        ecdsa_private_key_sealed: Some(ecdsa.private_key_sealed),
        created_at: 0,
        updated_at: 0,
    };
    let keyring = Keyring::open(&master, &row).unwrap();
    (keyring, [keys.ed25519_public_key, rsa.public_key, ecdsa.public_key])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test suite's fixtures, made with the `openssl` command line.
    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../tests/fixtures/crypto/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn deterministic_signatures_are_byte_for_byte_the_openssl_command_lines() {
        let ed25519 = PKey::private_key_from_pem(&fixture("ed25519_private.pem")).unwrap();
        let seed: [u8; 32] = ed25519.raw_private_key().unwrap().try_into().unwrap();
        let keyring = Keyring::from_parts(seed, &fixture("rsa_private.pem"), &fixture("ecdsa_private.pem")).unwrap();
        let message = fixture("message.txt");
        assert_eq!(
            keyring.sign(SignatureAlgorithm::RsaSha256, &message).unwrap(),
            fixture("message.rsa-sha256.sig"),
            "openssl dgst -sha256 -sign"
        );
        assert_eq!(
            keyring.sign(SignatureAlgorithm::Ed25519, &message).unwrap(),
            fixture("message.ed25519.sig"),
            "openssl pkeyutl -sign -rawin"
        );
        assert_eq!(
            keyring.rsa_private_encrypt(&fixture("seed200.bin")).unwrap(),
            fixture("seed200.rsa-private-encrypt.bin"),
            "openssl rsautl -sign -pkcs"
        );
        // PSS and ECDSA are randomized: the command line's verifier accepts ours.
        let verify = |pem: &str, algorithm: SignatureAlgorithm| {
            let public = PKey::public_key_from_pem(&fixture(pem)).unwrap();
            let signature = keyring.sign(algorithm, &message).unwrap();
            let mut verifier = openssl::sign::Verifier::new(MessageDigest::sha256(), &public).unwrap();
            if algorithm == SignatureAlgorithm::RsaPssSha256 {
                verifier.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
                verifier.set_rsa_pss_saltlen(RsaPssSaltlen::custom(222)).unwrap();
            }
            verifier.verify_oneshot(&signature, &message).unwrap()
        };
        assert!(
            verify("rsa_public.pem", SignatureAlgorithm::RsaPssSha256),
            "salt of 222 bytes: the maximum"
        );
        assert!(verify("ecdsa_public.pem", SignatureAlgorithm::EcdsaP256));
    }

    #[test]
    fn generated_pairs_have_keygens_pem_armour() {
        let master = MasterKey::from_hex(&MasterKey::generate_hex()).unwrap();
        let (rsa, ecdsa) = generate_rsa_and_ecdsa(&master).unwrap();
        assert!(rsa.public_key.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(ecdsa.public_key.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let rsa_private = String::from_utf8(master.open(&rsa.private_key_sealed).unwrap()).unwrap();
        assert!(rsa_private.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let ecdsa_private = String::from_utf8(master.open(&ecdsa.private_key_sealed).unwrap()).unwrap();
        assert!(ecdsa_private.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    }
}
