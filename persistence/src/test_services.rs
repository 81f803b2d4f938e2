//! The services the tests of this crate and of the CLI run against (PostgreSQL, NATS,
//! Redis), one place for their addresses. Not used by production paths.

/// The URL of a test service: `var` if set, else the standard local address. A service that
/// does not answer fails the test with a message naming the variable: no test skips silently.
pub fn service(var: &str) -> String {
    let default = match var {
        "CROUPIER_TEST_PG" => "postgres://postgres@127.0.0.1:5432/test",
        "CROUPIER_TEST_NATS" => "nats://127.0.0.1:4222",
        "CROUPIER_TEST_REDIS" => "redis://127.0.0.1:6379",
        other => panic!("no standard address for {other}"),
    };
    let url = std::env::var(var).ok().filter(|u| !u.trim().is_empty()).unwrap_or_else(|| default.to_string());
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host_port = rest.split('/').next().unwrap_or(rest);
    let answers = std::net::ToSocketAddrs::to_socket_addrs(host_port)
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|addr| std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5)).is_ok());
    assert!(answers, "{var}: nothing answers at {host_port} ({url}); start the service or set {var} to one that runs");
    url
}
