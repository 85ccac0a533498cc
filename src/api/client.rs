//! Who is calling: the client address (X-Forwarded-For only from trusted
//! proxies), its prefixes, country, user agent and device id. Full
//! addresses never leave this module except as keyed hashes.

use axum::http::HeaderMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

pub const DEVICE_COOKIE: &str = "velvet_device";
const MAX_DEVICE_ID_LEN: usize = 128;

/// An address block like 10.0.0.0/8 or fd00::/8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let net: IpAddr = addr.trim().parse().map_err(|_| format!("'{s}' is not an address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("'{s}' has a bad prefix length"))?,
            None => max,
        };
        Ok(Cidr { net, bits })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => mask4(a, self.bits) == mask4(n, self.bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => mask6(a, self.bits) == mask6(n, self.bits),
            _ => false,
        }
    }
}

fn mask4(a: Ipv4Addr, bits: u8) -> u32 {
    let m = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
    u32::from(a) & m
}

fn mask6(a: Ipv6Addr, bits: u8) -> u128 {
    let m = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
    u128::from(a) & m
}

/// IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The prefix recorded on events: IPv4 /24, IPv6 /48.
pub fn event_prefix(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(a) => format!("{}/24", Ipv4Addr::from(mask4(a, 24))),
        IpAddr::V6(a) => format!("{}/48", Ipv6Addr::from(mask6(a, 48))),
    }
}

/// The unit rate limits count: one IPv4 address, or one IPv6 /64 (a
/// single host usually holds a whole /64).
pub fn limit_unit(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("{}/64", Ipv6Addr::from(mask6(a, 64))),
    }
}

/// The header trusted proxies name the client in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: 203.0.113.7, [2001:db8::1]:443`
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=203.0.113.7;proto=https, for="[2001:db8::1]:443"`
    Forwarded,
}

impl FromStr for ForwardedHeader {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            _ => Err(format!("forwarded_header '{s}' is not X-Forwarded-For or Forwarded")),
        }
    }
}

/// One hop as proxies write it: `203.0.113.7`, `203.0.113.7:5555`,
/// `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:443`, optionally in
/// double quotes (RFC 7239). Anything else (`unknown`, `_hidden`, junk) is
/// not an address.
pub fn hop_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let hop = hop.strip_prefix('"').and_then(|h| h.strip_suffix('"')).unwrap_or(hop);
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    let port_ok =
        |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok();
    if let Some(rest) = hop.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let ip = inner.parse::<Ipv6Addr>().ok()?;
        return match after {
            "" => Some(IpAddr::V6(ip)),
            p => p.strip_prefix(':').filter(|p| port_ok(p)).map(|_| IpAddr::V6(ip)),
        };
    }
    let (host, port) = hop.split_once(':')?;
    let ip = host.parse::<Ipv4Addr>().ok()?;
    port_ok(port).then_some(IpAddr::V4(ip))
}

/// The hops of every instance of the header, first to last; `None` for a
/// hop that names no address (`unknown`, an obfuscated `_name`, junk).
fn hops(headers: &HeaderMap, which: ForwardedHeader) -> Vec<Option<IpAddr>> {
    let name = match which {
        ForwardedHeader::XForwardedFor => "x-forwarded-for",
        ForwardedHeader::Forwarded => "forwarded",
    };
    let elements = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
    match which {
        ForwardedHeader::XForwardedFor => elements.map(hop_address).collect(),
        ForwardedHeader::Forwarded => elements
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    key.trim().eq_ignore_ascii_case("for").then(|| hop_address(value)).flatten()
                })
            })
            .collect(),
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy,
/// the right-most address in the forwarding header that is not itself
/// trusted (ports, as several proxies write them, are dropped). A hop that
/// names no address stops the walk: what stands left of it was written by
/// someone we cannot vouch for, so the request counts as the proxy's.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[Cidr], which: ForwardedHeader) -> IpAddr {
    let peer_ip = canonical(peer.ip());
    if !trusted.iter().any(|c| c.contains(peer_ip)) {
        return peer_ip;
    }
    for hop in hops(headers, which).into_iter().rev() {
        match hop.map(canonical) {
            Some(ip) if trusted.iter().any(|c| c.contains(ip)) => continue,
            Some(ip) => return ip,
            None => break,
        }
    }
    peer_ip
}

/// A two-letter country from the configured header, trusted proxies only.
pub fn country(peer: SocketAddr, headers: &HeaderMap, trusted: &[Cidr], header: &str) -> Option<String> {
    if !trusted.iter().any(|c| c.contains(canonical(peer.ip()))) {
        return None;
    }
    let v = headers.get(header)?.to_str().ok()?.trim();
    (v.len() == 2 && v.chars().all(|c| c.is_ascii_alphabetic())).then(|| v.to_ascii_uppercase())
}

/// The device id the client sent (header or cookie), if it looks sane.
pub fn device_id(headers: &HeaderMap) -> Option<String> {
    let from_header = headers.get("x-device-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let from_cookie = || {
        headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|kv| kv.trim().strip_prefix(&format!("{DEVICE_COOKIE}=")).map(str::to_string))
    };
    from_header
        .or_else(from_cookie)
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty() && d.len() <= MAX_DEVICE_ID_LEN && d.chars().all(|c| c.is_ascii_graphic()))
}

pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    // Cut to length where it is stored (`RequestMeta::stamp`).
    headers.get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn peer(s: &str) -> SocketAddr {
        SocketAddr::new(s.parse().unwrap(), 4000)
    }

    #[test]
    fn prefixes_never_keep_the_whole_address() {
        assert_eq!(event_prefix("203.0.113.77".parse().unwrap()), "203.0.113.0/24");
        assert_eq!(event_prefix("2001:db8:1234:5678::1".parse().unwrap()), "2001:db8:1234::/48");
        assert_eq!(limit_unit("2001:db8:1234:5678:9:9:9:9".parse().unwrap()), "2001:db8:1234:5678::/64");
        assert_eq!(event_prefix("::ffff:198.51.100.9".parse().unwrap()), "198.51.100.0/24");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4, 198.51.100.7, 10.0.0.9"));
        h.insert("cf-ipcountry", HeaderValue::from_static("de"));
        // A stranger cannot choose its address.
        assert_eq!(
            client_ip(peer("192.0.2.1"), &h, &trusted, ForwardedHeader::XForwardedFor),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(country(peer("192.0.2.1"), &h, &trusted, "CF-IPCountry"), None);
        // Through the proxy: the right-most untrusted hop, not the spoofable left-most.
        assert_eq!(
            client_ip(peer("10.1.1.1"), &h, &trusted, ForwardedHeader::XForwardedFor),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(country(peer("10.1.1.1"), &h, &trusted, "CF-IPCountry").as_deref(), Some("DE"));
        assert!("nonsense".parse::<Cidr>().is_err());
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    }

    #[test]
    fn hops_may_carry_ports_and_quotes() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(hop_address("203.0.113.7"), ip("203.0.113.7"));
        assert_eq!(hop_address(" 203.0.113.7:5555 "), ip("203.0.113.7"));
        assert_eq!(hop_address("[2001:db8::1]:443"), ip("2001:db8::1"));
        assert_eq!(hop_address("[2001:db8::1]"), ip("2001:db8::1"));
        assert_eq!(hop_address("2001:db8::1"), ip("2001:db8::1"));
        assert_eq!(hop_address("\"[2001:db8:cafe::17]:4711\""), ip("2001:db8:cafe::17"));
        assert_eq!(hop_address("::ffff:198.51.100.9"), ip("::ffff:198.51.100.9"));
        for junk in [
            "",
            "unknown",
            "_hidden",
            "203.0.113.7:",
            "203.0.113.7:99999",
            "203.0.113.7:80x",
            "[2001:db8::1]443",
            "[2001:db8::1]:",
            "[203.0.113.7]:80",
            "2001:db8::1:443]",
            "1.2.3.4:5:6",
            "[::1",
            "\"1.2.3.4",
        ] {
            assert_eq!(hop_address(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn forwarded_for_with_ports_and_rfc_7239() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("198.51.100.1:1234, [2001:db8::1]:443, 10.0.0.9:80"));
        assert_eq!(
            client_ip(peer("10.1.1.1"), &h, &trusted, ForwardedHeader::XForwardedFor),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        h.insert(
            "forwarded",
            HeaderValue::from_static(
                "for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:db8:cafe::17]:4711\", for=unknown",
            ),
        );
        // The proxy hid its client (`for=unknown`): what stands left of it
        // is the client's own text, and the request counts as the proxy's.
        assert_eq!(
            client_ip(peer("10.1.1.1"), &h, &trusted, ForwardedHeader::Forwarded),
            "10.1.1.1".parse::<IpAddr>().unwrap()
        );
        h.insert(
            "forwarded",
            HeaderValue::from_static("for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:db8:cafe::17]:4711\""),
        );
        assert_eq!(
            client_ip(peer("10.1.1.1"), &h, &trusted, ForwardedHeader::Forwarded),
            "2001:db8:cafe::17".parse::<IpAddr>().unwrap()
        );
        h.insert("x-forwarded-for", HeaderValue::from_static("198.51.100.1, _hidden"));
        assert_eq!(
            client_ip(peer("10.1.1.1"), &h, &trusted, ForwardedHeader::XForwardedFor),
            "10.1.1.1".parse::<IpAddr>().unwrap(),
            "a client cannot pick its address past a hop the proxy wrote unreadable"
        );
        h.remove("x-forwarded-for");
        // The header not configured is the client's own text: ignored.
        h.remove("x-forwarded-for");
        assert_eq!(
            client_ip(peer("10.1.1.1"), &h, &trusted, ForwardedHeader::XForwardedFor),
            "10.1.1.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!("forwarded".parse::<ForwardedHeader>(), Ok(ForwardedHeader::Forwarded));
        assert!("x-real-ip".parse::<ForwardedHeader>().unwrap_err().contains("X-Forwarded-For or Forwarded"));
    }

    #[test]
    fn device_ids_come_from_header_or_cookie() {
        let mut h = HeaderMap::new();
        h.insert("cookie", HeaderValue::from_static("a=1; velvet_device=abc123"));
        assert_eq!(device_id(&h).as_deref(), Some("abc123"));
        h.insert("x-device-id", HeaderValue::from_static("dev-9"));
        assert_eq!(device_id(&h).as_deref(), Some("dev-9"));
        h.insert("x-device-id", HeaderValue::from_str(&"x".repeat(500)).unwrap());
        assert_eq!(device_id(&h), None);
    }
}
