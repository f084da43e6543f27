//! `mcp-host healthcheck`: a tiny HTTP/1.1 GET of `/healthz` over plain TCP,
//! so the container image needs no curl or wget (and no TLS: the check runs
//! beside the server, on loopback).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

use anyhow::Context;

use crate::config::HealthcheckArgs;

pub fn run(args: &HealthcheckArgs) -> anyhow::Result<()> {
    let rest = args
        .url
        .strip_prefix("http://")
        .context("--url must be an http:// URL (the check runs on loopback)")?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let address = authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {authority}"))?
        .next()
        .with_context(|| format!("{authority} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, args.timeout)
        .with_context(|| format!("cannot connect to {authority}"))?;
    stream.set_read_timeout(Some(args.timeout))?;
    stream.set_write_timeout(Some(args.timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    // The status line is all we need; stop reading once it is in.
    let mut response = Vec::new();
    let mut buffer = [0u8; 1024];
    while !response.windows(2).any(|w| w == b"\r\n") && response.len() < 8192 {
        let read = stream.read(&mut buffer).context("reading the answer")?;
        if read == 0 {
            break;
        }
        response.extend_from_slice(&buffer[..read]);
    }
    let response = String::from_utf8_lossy(&response);
    let status = response.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        println!("healthy: {status}");
        Ok(())
    } else {
        anyhow::bail!(
            "unhealthy: {}",
            if status.is_empty() {
                "no answer"
            } else {
                status
            }
        )
    }
}
