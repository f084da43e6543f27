use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant, SystemTime};

use httpdate::HttpDate;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::embedder::RemoteOptions;
use super::entra::AccessToken;
use super::error::RemoteError;

/// One failed attempt, with what the retry loop needs to decide what to do next.
#[derive(Debug)]
pub(super) struct Failure {
    pub error: RemoteError,
    /// Delay the server asked for (Retry-After and friends).
    pub retry_after: Option<Duration>,
    /// The Entra token a 401 was answered to; it may have been revoked early.
    pub rejected_token: Option<AccessToken>,
}

impl From<RemoteError> for Failure {
    fn from(error: RemoteError) -> Self {
        Self {
            error,
            retry_after: None,
            rejected_token: None,
        }
    }
}

/// How long to wait after failed attempt number `attempt` (1-based).
pub(super) fn delay(
    attempt: u32,
    retry_after: Option<Duration>,
    options: &RemoteOptions,
) -> Duration {
    match retry_after {
        // The server knows its quota window better than our backoff curve does.
        Some(wait) => wait.min(options.max_backoff),
        None => backoff(attempt, options),
    }
}

/// Exponential backoff with "equal jitter": half the step is fixed, half random,
/// so many clients throttled together don't come back in lockstep.
fn backoff(attempt: u32, options: &RemoteOptions) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    let step = options
        .initial_backoff
        .saturating_mul(factor)
        .min(options.max_backoff);
    step / 2 + step.mul_f64(random_unit() / 2.0)
}

/// A number in [0, 1); good enough for jitter without pulling in a RNG crate.
fn random_unit() -> f64 {
    // Each RandomState gets fresh random keys, so hashing anything yields noise.
    let bits = RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The delay a 429/503 response asks for, if any.
///
/// Azure OpenAI sends `retry-after-ms` (and sometimes `x-ms-retry-after-ms`)
/// next to the standard `Retry-After`; the millisecond form is more precise.
pub(super) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = text(name).and_then(|v| v.parse::<f64>().ok())
            && ms.is_finite()
            && ms >= 0.0
        {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let value = text(RETRY_AFTER.as_str())?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only HTTP-date
/// form servers are allowed to send (RFC 9110 §5.6.7). `httpdate` also reads
/// the two obsolete forms; those are still refused, by asking that the date
/// print back exactly as it was sent (httpdate prints IMF-fixdates).
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let date: HttpDate = value.parse().ok()?;
    (date.to_string() == value).then(|| date.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn options() -> RemoteOptions {
        RemoteOptions {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..RemoteOptions::default()
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn http_date_matches_known_timestamp() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            784_111_777
        );
        let t = parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT").unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            1_709_164_800
        );
        assert!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").is_none());
        assert!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST").is_none());
        assert!(parse_http_date("Sun Nov  6 08:49:37 1994").is_none());
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]),
                now
            ),
            Some(Duration::from_secs(7))
        );
        // A date in the past means "now", not an error.
        let later = now + Duration::from_secs(100);
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]),
                later
            ),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "7"), ("retry-after-ms", "250")]),
                now
            ),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&headers(&[("x-ms-retry-after-ms", "40")]), now),
            Some(Duration::from_millis(40))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn delay_is_capped_and_grows() {
        let o = options();
        assert_eq!(
            delay(1, Some(Duration::from_secs(60)), &o),
            Duration::from_secs(1)
        );
        assert_eq!(
            delay(1, Some(Duration::from_millis(5)), &o),
            Duration::from_millis(5)
        );
        for attempt in 1..=10 {
            let d = delay(attempt, None, &o);
            let step = (o.initial_backoff * 2u32.pow(attempt - 1)).min(o.max_backoff);
            assert!(
                d >= step / 2 && d <= step,
                "attempt {attempt}: {d:?} vs {step:?}"
            );
        }
        // No overflow panics for absurd attempt counts.
        assert!(delay(u32::MAX, None, &o) <= o.max_backoff);
    }
}
