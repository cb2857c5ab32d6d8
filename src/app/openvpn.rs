//! The OpenVPN engine's settings, built from the config: the TLS client config (the same
//! OpenVPN-style server checks as everywhere), the tls-auth/tls-crypt key file, the options
//! string and the peer-info block.

use std::path::Path;
use std::sync::Arc;

use crate::config::{AuthDigest, Config, ControlWrap, KeyDerivation, OpenVpnConfig};
use crate::openvpn::client::{Settings, WrapKeys};
use crate::openvpn::data::DataCipher;
use crate::openvpn::occ::{IvProto, OccOptions, PeerInfo, Platform};
use crate::openvpn::push::Cipher;
use crate::openvpn::wrap::{self, StaticKey};

/// Why the OpenVPN settings could not be built (all local problems the user can fix).
#[derive(Debug, thiserror::Error)]
pub enum OpenVpnSetupError {
    #[error("cannot read the key file {path}: {source}")]
    KeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not an OpenVPN static key (as made by `openvpn --genkey secret`): {source}"
    )]
    BadKey {
        path: String,
        #[source]
        source: wrap::StaticKeyError,
    },
    #[error(
        "cipher {0} is not supported (use AES-256-GCM, AES-128-GCM, CHACHA20-POLY1305, \
         AES-256-CBC or AES-128-CBC)"
    )]
    Cipher(String),
    #[error("cannot build the peer-info block: {0}")]
    PeerInfo(String),
    #[error(transparent)]
    Login(#[from] crate::credentials::CredentialsError),
}

/// The engine settings for `config` (which must be an OpenVPN config with `[tls]`).
pub fn settings(
    config: &Config,
    openvpn: &OpenVpnConfig,
    tls: Arc<rustls::ClientConfig>,
    cache: &crate::credentials::PromptCache,
) -> Result<Settings, OpenVpnSetupError> {
    // The engine takes the login once it sends it; until then it is only checked here.
    let _login = openvpn
        .auth_user_pass
        .as_ref()
        .map(|login| crate::credentials::load_user_pass(login, cache))
        .transpose()?;
    let wrap_keys = wrap_keys(&openvpn.wrap)?;
    let data = data_options(config, openvpn)?;
    let mut peer_info = PeerInfo::new(Platform::current());
    peer_info.ciphers = openvpn
        .ciphers
        .iter()
        .map(|c| Cipher::from_name(c))
        .collect();
    peer_info.proto = IvProto::new(openvpn.key_derivation == KeyDerivation::Auto);
    Ok(Settings {
        tls,
        server_name: crate::tls::server_name(&config.server.remote().host),
        wrap_keys,
        options: data.occ.to_options_string(),
        peer_info: peer_info
            .encode()
            .map_err(|e| OpenVpnSetupError::PeerInfo(e.to_string()))?,
        ciphers: data.ciphers,
        fallback_cipher: data.fallback,
        data_auth: data.auth,
        hand_window: openvpn.hand_window,
    })
}

/// The data-channel settings: ciphers offered, the fallback (`cipher`), the HMAC digest of CBC
/// (`auth`), and the options string fields that describe them as the stock client would.
struct DataOptions {
    ciphers: Vec<DataCipher>,
    fallback: Option<DataCipher>,
    auth: wrap::AuthDigest,
    occ: OccOptions,
}

fn data_options(
    config: &Config,
    openvpn: &OpenVpnConfig,
) -> Result<DataOptions, OpenVpnSetupError> {
    let data_cipher = |name: &String| {
        DataCipher::from_name(name).ok_or_else(|| OpenVpnSetupError::Cipher(name.clone()))
    };
    let ciphers = openvpn
        .ciphers
        .iter()
        .map(data_cipher)
        .collect::<Result<Vec<_>, _>>()?;
    let fallback = openvpn.cipher.as_ref().map(data_cipher).transpose()?;
    let auth = wrap_digest(openvpn.auth);
    let occ = OccOptions {
        tun_mtu: config.tun.mtu,
        tls_auth: match &openvpn.wrap {
            ControlWrap::TlsAuth { direction, .. } => Some(key_direction(*direction)),
            _ => None,
        },
        comp_lzo: false,
        cipher: fallback,
        cipher_offered: fallback.is_some_and(|c| ciphers.contains(&c)),
        auth,
    };
    Ok(DataOptions {
        ciphers,
        fallback,
        auth,
        occ,
    })
}

fn wrap_keys(wrap: &ControlWrap) -> Result<WrapKeys, OpenVpnSetupError> {
    Ok(match wrap {
        ControlWrap::None => WrapKeys::None,
        ControlWrap::TlsAuth {
            key,
            direction,
            digest,
        } => WrapKeys::TlsAuth {
            key: read_key(key)?,
            digest: wrap_digest(*digest),
            direction: key_direction(*direction),
        },
        ControlWrap::TlsCrypt { key } => WrapKeys::TlsCrypt {
            key: read_key(key)?,
        },
    })
}

/// The config's `auth` as the wrapper and the data channel take it.
fn wrap_digest(digest: AuthDigest) -> wrap::AuthDigest {
    match digest {
        AuthDigest::Sha1 => wrap::AuthDigest::Sha1,
        AuthDigest::Sha256 => wrap::AuthDigest::Sha256,
        AuthDigest::Sha512 => wrap::AuthDigest::Sha512,
    }
}

/// The config's `key_direction` (none, 0 or 1) as the wrapper and the options string use it.
fn key_direction(direction: Option<u8>) -> wrap::KeyDirection {
    match direction {
        None => wrap::KeyDirection::Bidirectional,
        Some(0) => wrap::KeyDirection::Zero,
        Some(_) => wrap::KeyDirection::One,
    }
}

fn read_key(path: &Path) -> Result<StaticKey, OpenVpnSetupError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| OpenVpnSetupError::KeyFile {
        path: shown.clone(),
        source,
    })?;
    StaticKey::parse(&text).map_err(|source| OpenVpnSetupError::BadKey {
        path: shown,
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::test_support::OPENVPN_MINIMAL;

    fn data_options_of(keys: &str) -> DataOptions {
        let text = format!("{OPENVPN_MINIMAL}[openvpn]\n{keys}\n");
        let config = crate::config::parse(&text, Path::new("/etc/tapclient/t.toml")).unwrap();
        let openvpn = config.openvpn.clone().unwrap();
        data_options(&config, &openvpn).unwrap()
    }

    #[test]
    fn cbc_settings_and_the_stock_options_string() {
        // As the stock 2.6.14 client with `data-ciphers AES-256-CBC`, `auth SHA256`, `cipher
        // AES-256-CBC` sends it (§4.1, captured in the lab).
        let data = data_options_of(
            "ciphers = [\"AES-256-CBC\"]\ncipher = \"AES-256-CBC\"\nauth = \"SHA256\"",
        );
        assert_eq!(data.ciphers, [DataCipher::Aes256Cbc]);
        assert_eq!(data.fallback, Some(DataCipher::Aes256Cbc));
        assert_eq!(data.auth, wrap::AuthDigest::Sha256);
        assert_eq!(
            data.occ.to_options_string(),
            "V4,dev-type tap,link-mtu 1603,tun-mtu 1500,proto TCPv4_CLIENT,cipher AES-256-CBC,\
             auth SHA256,keysize 256,key-method 2,tls-client"
        );
        // Without `cipher`: stock's implicit BF-CBC, with the configured digest.
        let data = data_options_of("ciphers = [\"AES-128-CBC\"]\nauth = \"SHA1\"");
        assert_eq!((data.fallback, data.auth), (None, wrap::AuthDigest::Sha1));
        assert!(data
            .occ
            .to_options_string()
            .contains(",link-mtu 1575,tun-mtu 1500,proto TCPv4_CLIENT,auth SHA1,keysize 128,"));
        // The defaults give the stock default string.
        assert_eq!(
            data_options_of("").occ.to_options_string(),
            OccOptions::default().to_options_string()
        );
    }
}
