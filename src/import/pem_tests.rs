//! Unit tests of base64, the PKCS#8 wrapping and PKCS#12 building.

use super::*;
