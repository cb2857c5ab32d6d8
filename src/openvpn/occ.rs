//! The two self-descriptions our key-method-2 message carries: the OCC options string (§4) and
//! the peer-info block (§3.2). Built exactly like a stock 2.6 client's, since a server only
//! compares the options string for warnings and branches on a few peer-info keys.
//!
//! Sources: OpenVPN `options.c` (`options_string`), `mtu.c` (link-mtu), `ssl.c`
//! (`push_peer_info`), `ssl.h` (IV_PROTO bits), `comp.c` (stub announcements). This module only
//! builds strings; it reads no configuration files and knows nothing about the session state.

use super::data::DataCipher;
use super::push::Cipher;
use super::wrap::AuthDigest;

/// `IV_VER` we announce. A 2.6 server does not branch on it; we send the exact version whose
/// behaviour we reproduce and against which the protocol facts were confirmed (stock 2.6.14), so
/// server-side scripts and admin policies that compare versions treat us like that client. The
/// product itself is named honestly in [`IV_GUI_VER`].
pub const IV_VER: &str = "2.6.14";
/// `IV_GUI_VER`: `tapclient_<crate version>`. Harmless for the server (it is logged and handed
/// to scripts); it lets an admin tell this client from the stock one.
pub const IV_GUI_VER: &str = concat!("tapclient_", env!("CARGO_PKG_VERSION"));
/// `IV_MTU` a stock 2.6 client sends: the largest tun-mtu it accepts by push.
pub const DEFAULT_MAX_PUSHED_MTU: u16 = 1600;
/// link-mtu − tun-mtu common to every configuration (`mtu.c`, `calc_options_string_link_mtu`,
/// TAP over TCP): the TAP headroom (`TAP_MTU_EXTRA` 32), the TCP length (2), the opcode (1; a
/// client computes the string before it knows its peer-id) and the packet-id (4).
const LINK_MTU_BASE: u32 = 32 + 2 + 1 + 4;
/// One more byte of link-mtu when a compression context is active (1576 in the capture).
const COMPRESSION_OVERHEAD: u32 = 1;

/// The tls-auth `key-direction`, which the options string reports (§1.8): the same setting the
/// wrapper uses.
pub use super::wrap::KeyDirection;

/// What the options string describes about our configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OccOptions {
    pub tun_mtu: u16,
    /// `Some` when the control channel uses tls-auth (tls-crypt does not show in the string).
    pub tls_auth: Option<KeyDirection>,
    /// True when a compression context is configured (`comp-lzo`/`compress`, stubs included).
    pub comp_lzo: bool,
    /// OpenVPN's `cipher` (our fallback for servers that push none); `None` is stock's implicit
    /// BF-CBC, which the string never names.
    pub cipher: Option<DataCipher>,
    /// Whether `cipher` is also one of the offered data ciphers: only then does the string name
    /// it (`options.c`: "only announce the cipher to our peer if we are willing to support it").
    pub cipher_offered: bool,
    /// OpenVPN's `auth`: shown unless `cipher` is an AEAD cipher (then `[null-digest]`).
    pub auth: AuthDigest,
}

impl Default for OccOptions {
    fn default() -> Self {
        OccOptions {
            tun_mtu: 1500,
            tls_auth: None,
            comp_lzo: false,
            cipher: None,
            cipher_offered: false,
            auth: AuthDigest::Sha1,
        }
    }
}

impl OccOptions {
    /// The link-mtu the stock client would report for this configuration: tun-mtu plus the
    /// worst-case overhead of the configured `cipher` and `auth` (`mtu.c`, `crypto.c`
    /// `calculate_crypto_overhead` with `occ` set). Checked against stock 2.6.14 for BF-CBC,
    /// AES-CBC and AES-GCM/ChaCha with SHA1/256/512 (§4.1).
    pub fn link_mtu(&self) -> u32 {
        let compression = if self.comp_lzo {
            COMPRESSION_OVERHEAD
        } else {
            0
        };
        let digest = self.auth.tag_len() as u32;
        let crypto = match self.cipher {
            // BF-CBC: 8-byte block + 8-byte IV, plus the HMAC.
            None => 8 + 8 + digest,
            // CBC: block + IV + HMAC.
            Some(DataCipher::Aes128Cbc | DataCipher::Aes256Cbc) => 16 + 16 + digest,
            // AEAD: tag + IV (12) + the block size OpenVPN reports (16 for AES-GCM, whose CBC
            // sibling it asks; 1 for ChaCha20); no HMAC.
            Some(DataCipher::Aes128Gcm | DataCipher::Aes256Gcm) => 16 + 12 + 16,
            Some(DataCipher::ChaCha20Poly1305) => 16 + 12 + 1,
        };
        u32::from(self.tun_mtu) + LINK_MTU_BASE + compression + crypto
    }

    /// The options string, fields in the stock order (§4.1), e.g.
    /// `V4,dev-type tap,link-mtu 1575,tun-mtu 1500,proto TCPv4_CLIENT,auth SHA1,keysize 128,key-method 2,tls-client`.
    pub fn to_options_string(&self) -> String {
        let mut s = format!(
            "V4,dev-type tap,link-mtu {},tun-mtu {},proto TCPv4_CLIENT",
            self.link_mtu(),
            self.tun_mtu
        );
        if self.comp_lzo {
            s.push_str(",comp-lzo");
        }
        match self.tls_auth {
            Some(KeyDirection::Zero) => s.push_str(",keydir 0"),
            Some(KeyDirection::One) => s.push_str(",keydir 1"),
            Some(KeyDirection::Bidirectional) | None => {}
        }
        if let Some(cipher) = self.cipher.filter(|_| self.cipher_offered) {
            s.push_str(",cipher ");
            s.push_str(cipher.name());
        }
        let auth = match self.cipher {
            Some(cipher) if cipher.is_aead() => "[null-digest]",
            _ => digest_name(self.auth),
        };
        // BF-CBC's 128 bits are what stock prints when no cipher is configured.
        let keysize = self.cipher.map_or(128, |cipher| cipher.key_len() * 8);
        s.push_str(&format!(",auth {auth},keysize {keysize}"));
        if self.tls_auth.is_some() {
            s.push_str(",tls-auth");
        }
        s.push_str(",key-method 2,tls-client");
        s
    }
}

/// The digest's name as OpenVPN 2.6 with OpenSSL 3 prints it in the options string.
fn digest_name(auth: AuthDigest) -> &'static str {
    match auth {
        AuthDigest::Sha1 => "SHA1",
        AuthDigest::Sha256 => "SHA256",
        AuthDigest::Sha512 => "SHA512",
    }
}

/// The `IV_PLAT` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Linux,
    Mac,
}

impl Platform {
    /// The platform this binary was built for (macOS → `Mac`, everything else → `Linux`).
    pub fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::Mac
        } else {
            Platform::Linux
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Platform::Linux => "linux",
            Platform::Mac => "mac",
        }
    }
}

/// The `IV_PROTO` bit field (§3.2, `ssl.h`). Only the bits this client implements can be set:
/// P_DATA_V2/peer-id (1), request-push (2), EKM key derivation (3), control-channel EXIT and
/// `protocol-flags` (7). Never set: 4 (AUTH_PENDING keywords), 5 (p2p NCP), 6 (`--dns`),
/// 8 (AUTH_FAILED,TEMP), 9 (dynamic tls-crypt on renegotiation, §1.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvProto(u32);

impl IvProto {
    pub const DATA_V2: u32 = 1 << 1;
    pub const REQUEST_PUSH: u32 = 1 << 2;
    pub const TLS_KEY_EXPORT: u32 = 1 << 3;
    pub const CC_EXIT_NOTIFY: u32 = 1 << 7;

    /// 142 = 2|4|8|128: the server answers `protocol-flags cc-exit tls-ekm` and both sides use
    /// EKM (§3.2, confirmed end to end).
    pub const DEFAULT: IvProto =
        IvProto(Self::DATA_V2 | Self::REQUEST_PUSH | Self::TLS_KEY_EXPORT | Self::CC_EXIT_NOTIFY);

    /// With `ekm` false bit 3 is dropped (134 = 2|4|128): the server pushes
    /// `protocol-flags cc-exit` without `tls-ekm` and both sides use the legacy PRF (§5.0).
    pub fn new(ekm: bool) -> IvProto {
        if ekm {
            Self::DEFAULT
        } else {
            IvProto(Self::DEFAULT.0 & !Self::TLS_KEY_EXPORT)
        }
    }

    pub fn bits(&self) -> u32 {
        self.0
    }

    pub fn announces_ekm(&self) -> bool {
        self.0 & Self::TLS_KEY_EXPORT != 0
    }
}

impl Default for IvProto {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why the peer-info block cannot be built (local misconfiguration).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerInfoError {
    #[error("no data cipher configured; at least one is needed for IV_CIPHERS")]
    NoCiphers,
    #[error("data cipher name {0:?} cannot be announced (it must be printable ASCII without ':' or ',')")]
    BadCipherName(String),
}

/// What the peer-info block announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub platform: Platform,
    /// Data ciphers in preference order (`IV_CIPHERS`); the server picks the first of *its*
    /// list that appears here.
    pub ciphers: Vec<Cipher>,
    pub proto: IvProto,
    /// `IV_MTU`: when sent, the server pushes its `tun-mtu` (§3.2), which lets the session
    /// check the MTU it must carry. `None` leaves the line out.
    pub max_pushed_mtu: Option<u16>,
}

impl PeerInfo {
    /// The stock announcement: AES-256-GCM, AES-128-GCM, CHACHA20-POLY1305, IV_PROTO 142,
    /// IV_MTU 1600.
    pub fn new(platform: Platform) -> PeerInfo {
        PeerInfo {
            platform,
            ciphers: vec![
                Cipher::Aes256Gcm,
                Cipher::Aes128Gcm,
                Cipher::Chacha20Poly1305,
            ],
            proto: IvProto::DEFAULT,
            max_pushed_mtu: Some(DEFAULT_MAX_PUSHED_MTU),
        }
    }

    /// The `KEY=VALUE\n` block in the stock order (§3.2), plus `IV_GUI_VER` naming this client.
    pub fn encode(&self) -> Result<String, PeerInfoError> {
        let ciphers = self.cipher_list()?;
        let mut s = format!(
            "IV_VER={IV_VER}\nIV_PLAT={}\nIV_TCPNL=1\n",
            self.platform.as_str()
        );
        if let Some(mtu) = self.max_pushed_mtu {
            s.push_str(&format!("IV_MTU={mtu}\n"));
        }
        s.push_str(&format!(
            "IV_NCP=2\nIV_CIPHERS={ciphers}\nIV_PROTO={}\n\
             IV_LZO_STUB=1\nIV_COMP_STUB=1\nIV_COMP_STUBv2=1\nIV_GUI_VER={IV_GUI_VER}\n",
            self.proto.bits(),
        ));
        Ok(s)
    }

    fn cipher_list(&self) -> Result<String, PeerInfoError> {
        if self.ciphers.is_empty() {
            return Err(PeerInfoError::NoCiphers);
        }
        let mut names = Vec::with_capacity(self.ciphers.len());
        for cipher in &self.ciphers {
            let name = cipher.name();
            let printable = name
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b':' && b != b',');
            if name.is_empty() || !printable {
                return Err(PeerInfoError::BadCipherName(name.to_owned()));
            }
            names.push(name);
        }
        Ok(names.join(":"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options_string_is_the_stock_client_string() {
        assert_eq!(
            OccOptions::default().to_options_string(),
            "V4,dev-type tap,link-mtu 1575,tun-mtu 1500,proto TCPv4_CLIENT,auth SHA1,keysize 128,\
             key-method 2,tls-client"
        );
    }

    #[test]
    fn tls_auth_options_string_matches_the_capture() {
        let occ = OccOptions {
            tls_auth: Some(KeyDirection::One),
            ..OccOptions::default()
        };
        assert_eq!(
            occ.to_options_string(),
            "V4,dev-type tap,link-mtu 1575,tun-mtu 1500,proto TCPv4_CLIENT,keydir 1,auth SHA1,\
             keysize 128,tls-auth,key-method 2,tls-client"
        );
        let bidirectional = OccOptions {
            tls_auth: Some(KeyDirection::Bidirectional),
            ..OccOptions::default()
        };
        assert_eq!(
            bidirectional.to_options_string(),
            "V4,dev-type tap,link-mtu 1575,tun-mtu 1500,proto TCPv4_CLIENT,auth SHA1,keysize 128,\
             tls-auth,key-method 2,tls-client"
        );
    }

    #[test]
    fn compression_and_mtu_change_the_string_like_the_stock_client() {
        let occ = OccOptions {
            tun_mtu: 1400,
            tls_auth: Some(KeyDirection::Zero),
            comp_lzo: true,
            ..OccOptions::default()
        };
        assert_eq!(occ.link_mtu(), 1476);
        assert_eq!(
            occ.to_options_string(),
            "V4,dev-type tap,link-mtu 1476,tun-mtu 1400,proto TCPv4_CLIENT,comp-lzo,keydir 0,\
             auth SHA1,keysize 128,tls-auth,key-method 2,tls-client"
        );
        let stock_server_variant = OccOptions {
            comp_lzo: true,
            ..OccOptions::default()
        };
        assert!(stock_server_variant.to_options_string().starts_with(
            "V4,dev-type tap,link-mtu 1576,tun-mtu 1500,proto TCPv4_CLIENT,comp-lzo,auth SHA1,"
        ));
    }

    /// Strings a stock 2.6.14 client sent (its "Local Options String" at verb 7, lab, 2026-11)
    /// with `data-ciphers D`, `auth A` and, where given, `cipher C` or `data-ciphers-fallback C`.
    #[test]
    fn cipher_and_auth_options_strings_match_the_stock_client() {
        let stock = |cipher, offered, auth, expected: &str| {
            let occ = OccOptions {
                cipher,
                cipher_offered: offered,
                auth,
                ..OccOptions::default()
            };
            assert_eq!(
                occ.to_options_string(),
                format!("V4,dev-type tap,{expected},key-method 2,tls-client")
            );
        };
        use DataCipher::*;
        let common = "tun-mtu 1500,proto TCPv4_CLIENT";
        // data-ciphers AES-256-CBC, auth SHA256, no cipher.
        stock(
            None,
            false,
            AuthDigest::Sha256,
            &format!("link-mtu 1587,{common},auth SHA256,keysize 128"),
        );
        // data-ciphers AES-256-CBC, auth SHA256, cipher AES-256-CBC.
        stock(
            Some(Aes256Cbc),
            true,
            AuthDigest::Sha256,
            &format!("link-mtu 1603,{common},cipher AES-256-CBC,auth SHA256,keysize 256"),
        );
        // data-ciphers AES-128-CBC, auth SHA1, cipher AES-128-CBC.
        stock(
            Some(Aes128Cbc),
            true,
            AuthDigest::Sha1,
            &format!("link-mtu 1591,{common},cipher AES-128-CBC,auth SHA1,keysize 128"),
        );
        // data-ciphers AES-128-CBC, auth SHA512, data-ciphers-fallback AES-128-CBC.
        stock(
            Some(Aes128Cbc),
            true,
            AuthDigest::Sha512,
            &format!("link-mtu 1635,{common},cipher AES-128-CBC,auth SHA512,keysize 128"),
        );
        // data-ciphers AES-256-CBC, auth SHA512, cipher AES-128-CBC (not offered: not named).
        stock(
            Some(Aes128Cbc),
            false,
            AuthDigest::Sha512,
            &format!("link-mtu 1635,{common},auth SHA512,keysize 128"),
        );
        // data-ciphers AES-256-CBC, auth SHA1, cipher AES-256-GCM (AEAD: no digest).
        stock(
            Some(Aes256Gcm),
            false,
            AuthDigest::Sha1,
            &format!("link-mtu 1583,{common},auth [null-digest],keysize 256"),
        );
        // data-ciphers AES-256-CBC, auth SHA256, cipher CHACHA20-POLY1305.
        stock(
            Some(ChaCha20Poly1305),
            false,
            AuthDigest::Sha256,
            &format!("link-mtu 1568,{common},auth [null-digest],keysize 256"),
        );
    }

    #[test]
    fn options_string_fits_its_limit() {
        let occ = OccOptions {
            tun_mtu: u16::MAX,
            tls_auth: Some(KeyDirection::One),
            comp_lzo: true,
            cipher: Some(DataCipher::ChaCha20Poly1305),
            cipher_offered: true,
            auth: AuthDigest::Sha512,
        };
        assert!(occ.to_options_string().len() < super::super::keymethod::MAX_OPTIONS_LEN);
    }

    #[test]
    fn peer_info_is_the_stock_block_plus_gui_version() {
        let info = PeerInfo::new(Platform::Linux).encode().unwrap();
        assert_eq!(
            info,
            "IV_VER=2.6.14\nIV_PLAT=linux\nIV_TCPNL=1\nIV_MTU=1600\nIV_NCP=2\n\
             IV_CIPHERS=AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305\nIV_PROTO=142\n\
             IV_LZO_STUB=1\nIV_COMP_STUB=1\nIV_COMP_STUBv2=1\nIV_GUI_VER=tapclient_0.1.0\n"
                .replace("0.1.0", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn peer_info_parameters() {
        let info = PeerInfo {
            platform: Platform::Mac,
            ciphers: vec![Cipher::Chacha20Poly1305, Cipher::Aes256Cbc],
            proto: IvProto::new(false),
            max_pushed_mtu: None,
        };
        let text = info.encode().unwrap();
        assert!(
            text.starts_with("IV_VER=2.6.14\nIV_PLAT=mac\nIV_TCPNL=1\nIV_NCP=2\n"),
            "{text}"
        );
        assert!(text.contains("\nIV_CIPHERS=CHACHA20-POLY1305:AES-256-CBC\nIV_PROTO=134\n"));
        assert!(!text.contains("IV_MTU"));
    }

    #[test]
    fn iv_proto_bits() {
        assert_eq!(IvProto::DEFAULT.bits(), 142);
        assert_eq!(IvProto::new(true), IvProto::default());
        assert_eq!(IvProto::new(false).bits(), 134);
        assert!(IvProto::DEFAULT.announces_ekm() && !IvProto::new(false).announces_ekm());
        for bits in [IvProto::new(true).bits(), IvProto::new(false).bits()] {
            let forbidden = (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) | (1 << 9) | 1;
            assert_eq!(bits & forbidden, 0);
            assert_ne!(bits & IvProto::DATA_V2, 0);
        }
    }

    #[test]
    fn bad_cipher_lists_are_refused() {
        let mut info = PeerInfo::new(Platform::Linux);
        info.ciphers.clear();
        assert_eq!(info.encode(), Err(PeerInfoError::NoCiphers));
        for bad in ["AES-256-GCM:BF-CBC", "", "A B", "X,Y", "AES\n"] {
            info.ciphers = vec![Cipher::Aes128Gcm, Cipher::from_name(bad)];
            assert_eq!(
                info.encode(),
                Err(PeerInfoError::BadCipherName(bad.to_owned())),
                "{bad:?}"
            );
        }
        info.ciphers = vec![Cipher::from_name("bf-cbc")];
        assert!(info.encode().unwrap().contains("IV_CIPHERS=bf-cbc\n"));
    }

    #[test]
    fn platform_names() {
        assert_eq!(Platform::Linux.as_str(), "linux");
        assert_eq!(Platform::Mac.as_str(), "mac");
        let expected = if cfg!(target_os = "macos") {
            "mac"
        } else {
            "linux"
        };
        assert_eq!(Platform::current().as_str(), expected);
    }
}
