//! Where a webhook may be delivered: never to the server's own neighbourhood. An endpoint URL
//! whose host resolves to a loopback, private, link-local, unique-local, shared or otherwise
//! internal address is refused, at create and again at delivery (after resolution: a name can
//! point elsewhere by then), unless the operator allows its network (`KEYLEDGER_WEBHOOK_ALLOW_NETS`,
//! CIDRs such as `127.0.0.0/8`). Delivery checks the URL here before each attempt, and its HTTP
//! client's resolver applies the same rule to the addresses it connects to, so a name that
//! changed between the two still cannot reach an internal address.
//!
//! Keygen takes `https` URLs only; plain `http` is taken here just for allowed networks (a
//! receiver on the operator's own network, or a test's on loopback).

use futures::future::BoxFuture;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// Networks the operator allows webhooks into despite the rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedNets(Vec<IpNet>);

impl FromStr for AllowedNets {
    type Err = String;

    /// CIDRs separated by commas or spaces; a bare address is a network of one.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        list.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is not a network (CIDR, e.g. 127.0.0.0/8) or an address"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(AllowedNets)
    }
}

impl AllowedNets {
    /// Whether `ip` lies in an allowed network (an IPv4-mapped IPv6 address as its IPv4 one).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether a webhook may not go to `ip`: it is internal and no allowed network holds it.
    pub fn refuses(&self, ip: IpAddr) -> bool {
        is_internal(ip) && !self.allows(ip)
    }
}

/// Why a URL may not be delivered to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("must be a valid URL")]
    Invalid,
    #[error("must be an https URL")]
    NotHttps,
    #[error("must resolve to an address")]
    Unresolved,
    #[error("must not resolve to a private, loopback or link-local address")]
    Internal(IpAddr),
}

/// Resolves a host name to its addresses: DNS in production, a table in tests.
pub trait Resolver: Send + Sync {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, std::io::Result<Vec<SocketAddr>>>;
}

/// The system's resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, std::io::Result<Vec<SocketAddr>>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// The addresses `url` may be delivered to. Every address its host has must be public or in an
/// allowed network: one internal address refuses the URL, since the next lookup may answer it.
pub async fn deliverable(
    url: &str,
    allowed: &AllowedNets,
    resolver: &dyn Resolver,
) -> Result<Vec<SocketAddr>, Refusal> {
    let url = url::Url::parse(url).map_err(|_| Refusal::Invalid)?;
    let scheme = url.scheme();
    if scheme != "https" && scheme != "http" {
        return Err(Refusal::Invalid);
    }
    let port = url.port_or_known_default().ok_or(Refusal::Invalid)?;
    let addresses = match url.host().ok_or(Refusal::Invalid)? {
        url::Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        url::Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        url::Host::Domain(name) => resolver.resolve(name, port).await.map_err(|_| Refusal::Unresolved)?,
    };
    if addresses.is_empty() {
        return Err(Refusal::Unresolved);
    }
    for address in &addresses {
        let ip = address.ip();
        if allowed.refuses(ip) {
            return Err(Refusal::Internal(ip));
        }
    }
    if scheme == "http" && !addresses.iter().all(|a| allowed.allows(a.ip())) {
        return Err(Refusal::NotHttps);
    }
    Ok(addresses)
}

/// An IPv6 address that carries an IPv4 one (mapped `::ffff:a.b.c.d`, or NAT64
/// `64:ff9b::a.b.c.d`) as that IPv4 address; any other as itself.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        _ => None,
    }
}

/// Whether `ip` is not on the public internet: what a server must not be made to call.
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || ip.segments()[..6] == [0; 6] // IPv4-compatible ::a.b.c.d (deprecated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A resolver that answers from a table.
    struct Table(HashMap<&'static str, Vec<IpAddr>>);

    impl Resolver for Table {
        fn resolve<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, std::io::Result<Vec<SocketAddr>>> {
            let found = self
                .0
                .get(host)
                .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
            Box::pin(async move { found.ok_or_else(|| std::io::Error::other("no such host")) })
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn table() -> Table {
        Table(HashMap::from([
            ("public.example", vec![ip("93.184.216.34"), ip("2606:2800:220:1::1")]),
            ("metadata.example", vec![ip("169.254.169.254")]),
            ("split.example", vec![ip("93.184.216.34"), ip("10.0.0.7")]),
            ("mapped.example", vec![ip("::ffff:192.168.1.1")]),
            ("nothing.example", vec![]),
        ]))
    }

    async fn check(url: &str, allowed: &str) -> Result<Vec<SocketAddr>, Refusal> {
        deliverable(url, &allowed.parse().unwrap(), &table()).await
    }

    #[test]
    fn internal_ranges_are_internal_and_public_ones_are_not() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::a00:1",
            "ff02::1",
        ] {
            assert!(is_internal(ip(internal)), "{internal} is internal");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip(public)), "{public} is public");
        }
    }

    #[tokio::test]
    async fn a_public_https_url_is_deliverable_to_every_address_its_host_has() {
        let addresses = check("https://public.example/hooks", "").await.unwrap();
        assert_eq!(addresses.len(), 2);
        assert!(addresses.iter().all(|a| a.port() == 443));
    }

    #[tokio::test]
    async fn an_internal_address_refuses_the_url_unless_its_network_is_allowed() {
        for url in [
            "https://127.0.0.1:8443/",
            "https://[::1]/",
            "https://metadata.example/latest",
            "https://split.example/",
            "https://mapped.example/",
            "https://[::ffff:10.0.0.1]/",
            "https://[fd00::1]/",
        ] {
            assert!(matches!(check(url, "").await, Err(Refusal::Internal(_))), "{url}");
        }
        assert!(check("https://127.0.0.1:8443/", "127.0.0.0/8").await.is_ok());
        assert!(check("https://mapped.example/", "192.168.0.0/16").await.is_ok());
        assert!(check("https://split.example/", "127.0.0.0/8").await.is_err());
    }

    #[tokio::test]
    async fn plain_http_is_only_for_allowed_networks() {
        assert_eq!(check("http://public.example/", "").await, Err(Refusal::NotHttps));
        assert_eq!(
            check("http://127.0.0.1:9000/", "").await,
            Err(Refusal::Internal(ip("127.0.0.1")))
        );
        let allowed = check("http://127.0.0.1:9000/", "127.0.0.0/8, ::1").await.unwrap();
        assert_eq!(allowed, vec!["127.0.0.1:9000".parse().unwrap()]);
    }

    #[tokio::test]
    async fn what_is_no_url_or_resolves_to_nothing_is_refused() {
        assert_eq!(check("not a url", "").await, Err(Refusal::Invalid));
        assert_eq!(check("ftp://public.example/", "").await, Err(Refusal::Invalid));
        assert_eq!(check("https://unknown.example/", "").await, Err(Refusal::Unresolved));
        assert_eq!(check("https://nothing.example/", "").await, Err(Refusal::Unresolved));
    }

    #[test]
    fn the_allow_list_takes_networks_and_addresses_and_names_a_bad_entry() {
        let allowed: AllowedNets = "127.0.0.0/8, ::1 10.9.8.7".parse().unwrap();
        assert!(allowed.allows(ip("127.5.5.5")));
        assert!(allowed.allows(ip("::1")));
        assert!(allowed.allows(ip("10.9.8.7")));
        assert!(allowed.allows(ip("::ffff:127.0.0.1")));
        assert!(!allowed.allows(ip("10.9.8.6")));
        assert_eq!("".parse::<AllowedNets>(), Ok(AllowedNets::default()));
        let error = "127.0.0.0/8,localhost".parse::<AllowedNets>().unwrap_err();
        assert!(error.contains("localhost"), "{error}");
    }
}
