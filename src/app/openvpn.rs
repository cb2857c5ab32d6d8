//! The OpenVPN engine's settings, built from the config: the TLS client config (the same
//! OpenVPN-style server checks as everywhere), the tls-auth/tls-crypt key file, the options
//! string and the peer-info block.

use std::path::Path;
use std::sync::Arc;

use crate::config::{AuthDigest, Config, ControlWrap, KeyDerivation, OpenVpnConfig};
use crate::openvpn::client::{Settings, UserPass, WrapKeys};
use crate::openvpn::data::DataCipher;
use crate::openvpn::keymethod::ClientKeyMessage;
use crate::openvpn::occ::{IvProto, OccOptions, PeerInfo, Platform};
use crate::openvpn::push::Cipher;
use crate::openvpn::push::CompressionFraming;
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
    #[error(
        "the key exchange message would be unusable (shorten the [auth_user_pass] login): {0}"
    )]
    KeyMessage(crate::openvpn::keymethod::KeyMethodBuildError),
    #[error("cannot send the [auth_user_pass] login: {0}")]
    LoginUnsendable(#[from] crate::openvpn::client::UserPassError),
}

/// The engine settings for `config` (which must be an OpenVPN config with `[tls]`).
pub fn settings(
    config: &Config,
    openvpn: &OpenVpnConfig,
    tls: Arc<rustls::ClientConfig>,
    cache: &crate::credentials::PromptCache,
) -> Result<Settings, OpenVpnSetupError> {
    let user_pass = match &openvpn.auth_user_pass {
        None => None,
        Some(login) => {
            let login = crate::credentials::load_user_pass(login, cache)?;
            Some(UserPass::new(login.username, login.password)?)
        }
    };
    let wrap_keys = wrap_keys(&openvpn.wrap)?;
    let data = data_options(config, openvpn)?;
    let mut peer_info = PeerInfo::new(Platform::current());
    peer_info.ciphers = openvpn
        .ciphers
        .iter()
        .map(|c| Cipher::from_name(c))
        .collect();
    peer_info.proto = IvProto::new(openvpn.key_derivation == KeyDerivation::Auto);
    let options = data.occ.to_options_string();
    let peer_info = peer_info
        .encode()
        .map_err(|e| OpenVpnSetupError::PeerInfo(e.to_string()))?;
    let login = user_pass
        .as_ref()
        .map_or(("", ""), |l| (l.username(), l.expose_password()));
    ClientKeyMessage::checked_len([&options, login.0, login.1, &peer_info])
        .map_err(OpenVpnSetupError::KeyMessage)?;
    Ok(Settings {
        tls,
        server_name: crate::tls::server_name(&config.server.remote().host),
        wrap_keys,
        options,
        peer_info,
        ciphers: data.ciphers,
        fallback_cipher: data.fallback,
        data_auth: data.auth,
        hand_window: openvpn.hand_window,
        user_pass,
        reneg_interval: openvpn.reneg,
        ping: openvpn.ping,
        ping_restart: openvpn.ping_restart,
        compression: openvpn.compress.map(compression_framing),
    })
}

/// The config's `compress` as the engine's framing.
fn compression_framing(framing: crate::config::CompressFraming) -> CompressionFraming {
    use crate::config::CompressFraming;
    match framing {
        CompressFraming::CompLzo => CompressionFraming::Lzo,
        CompressFraming::Swap => CompressionFraming::Swap,
        CompressFraming::V2 => CompressionFraming::V2,
    }
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
        // Stock peers list `comp-lzo` whenever any compression framing is configured (§4.1).
        comp_lzo: openvpn.compress.is_some(),
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
    use std::time::Duration;

    use super::*;

    fn settings_for(openvpn_keys: &str) -> Settings {
        try_settings(openvpn_keys).unwrap()
    }

    fn try_settings(openvpn_keys: &str) -> Result<Settings, OpenVpnSetupError> {
        let text = format!(
            "{}[openvpn]\n{openvpn_keys}\n",
            crate::config::test_support::OPENVPN_MINIMAL
        );
        let config = crate::config::parse(&text, Path::new("/etc/tapclient/t.toml")).unwrap();
        let openvpn = config.openvpn.clone().unwrap();
        let tls = crate::testutil::tls_client_without_roots();
        let cache = crate::credentials::PromptCache::default();
        settings(&config, &openvpn, tls, &cache)
    }

    #[test]
    fn the_login_goes_to_the_engine_and_oversized_ones_are_refused_before_connecting() {
        let dir = tempfile::tempdir().unwrap();
        let auth = dir.path().join("a.auth");
        std::fs::write(&auth, "alice\nwonderland\n").unwrap();
        let keys = format!("[auth_user_pass]\nfile = \"{}\"", auth.display());
        let set = settings_for(&keys);
        let login = set.user_pass.as_ref().expect("a login");
        assert_eq!(
            (login.username(), login.expose_password()),
            ("alice", "wonderland")
        );
        assert!(settings_for("").user_pass.is_none());
        // Each fits on its own; together they overflow the server's 2048-byte read.
        let long = "x".repeat(1000);
        std::fs::write(&auth, format!("{long}\n{long}\n")).unwrap();
        let err = try_settings(&keys).err().expect("refused");
        assert!(err.to_string().contains("[auth_user_pass]"), "{err}");
        assert!(!err.to_string().contains(&long), "never shows the values");
    }

    #[test]
    fn reneg_keepalive_and_compression_fallbacks_come_from_the_config() {
        let defaults = settings_for("");
        assert_eq!(defaults.reneg_interval, Some(Duration::from_secs(3600)));
        assert_eq!((defaults.ping, defaults.ping_restart), (None, None));
        assert_eq!(defaults.compression, None);
        assert!(
            !defaults.options.contains("comp-lzo"),
            "{}",
            defaults.options
        );

        let keys = "reneg_sec = 0\nping = 10\nping_restart = 60\ncompress = \"stub-v2\"";
        let set = settings_for(keys);
        assert_eq!(set.reneg_interval, None);
        assert_eq!(set.ping, Some(Duration::from_secs(10)));
        assert_eq!(set.ping_restart, Some(Duration::from_secs(60)));
        assert_eq!(set.compression, Some(CompressionFraming::V2));
        // Any configured framing puts `comp-lzo` into the options string, as stock peers do.
        assert!(set.options.contains(",comp-lzo,"), "{}", set.options);
        let lzo = settings_for("compress = \"comp-lzo\"");
        assert_eq!(lzo.compression, Some(CompressionFraming::Lzo));
    }

    #[test]
    fn cbc_settings_and_the_stock_options_string() {
        // As the stock 2.6.14 client with `data-ciphers AES-256-CBC`, `auth SHA256`, `cipher
        // AES-256-CBC` sends it (§4.1, captured in the lab).
        let settings = settings_for(
            "ciphers = [\"AES-256-CBC\"]\ncipher = \"AES-256-CBC\"\nauth = \"SHA256\"",
        );
        assert_eq!(settings.ciphers, [DataCipher::Aes256Cbc]);
        assert_eq!(settings.fallback_cipher, Some(DataCipher::Aes256Cbc));
        assert_eq!(settings.data_auth, wrap::AuthDigest::Sha256);
        assert_eq!(
            settings.options,
            "V4,dev-type tap,link-mtu 1603,tun-mtu 1500,proto TCPv4_CLIENT,cipher AES-256-CBC,\
             auth SHA256,keysize 256,key-method 2,tls-client"
        );
        // Without `cipher`: stock's implicit BF-CBC, with the configured digest.
        let settings = settings_for("ciphers = [\"AES-128-CBC\"]\nauth = \"SHA1\"");
        assert_eq!(settings.fallback_cipher, None);
        assert_eq!(settings.data_auth, wrap::AuthDigest::Sha1);
        assert!(settings
            .options
            .contains(",link-mtu 1575,tun-mtu 1500,proto TCPv4_CLIENT,auth SHA1,keysize 128,"));
        // The defaults give the stock default string.
        assert_eq!(
            settings_for("").options,
            OccOptions::default().to_options_string()
        );
    }
}
