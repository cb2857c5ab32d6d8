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
    #[error("cipher {0} is not supported (use AES-256-GCM, AES-128-GCM or CHACHA20-POLY1305)")]
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
    let ciphers = openvpn
        .ciphers
        .iter()
        .map(|name| {
            DataCipher::from_name(name).ok_or_else(|| OpenVpnSetupError::Cipher(name.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = OccOptions {
        tun_mtu: config.tun.mtu,
        tls_auth: match &openvpn.wrap {
            ControlWrap::TlsAuth { direction, .. } => Some(key_direction(*direction)),
            _ => None,
        },
        comp_lzo: false,
    };
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
        options: options.to_options_string(),
        peer_info: peer_info
            .encode()
            .map_err(|e| OpenVpnSetupError::PeerInfo(e.to_string()))?,
        ciphers,
        hand_window: openvpn.hand_window,
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
            digest: match digest {
                AuthDigest::Sha1 => wrap::AuthDigest::Sha1,
                AuthDigest::Sha256 => wrap::AuthDigest::Sha256,
                AuthDigest::Sha512 => wrap::AuthDigest::Sha512,
            },
            direction: key_direction(*direction),
        },
        ControlWrap::TlsCrypt { key } => WrapKeys::TlsCrypt {
            key: read_key(key)?,
        },
    })
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
