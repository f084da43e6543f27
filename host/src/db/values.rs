//! `sql-value` <-> PostgreSQL, in one place.
//!
//! Parameters go to the server in *text* format: PostgreSQL's own input
//! function for the parameter's type parses them, so every type the server
//! knows is accepted and a mismatch comes back as the server's own message
//! ("invalid input syntax for type integer"). The one exception is a vector
//! for a `vector` parameter, sent in pgvector's binary format by the
//! `pgvector` crate. Results arrive in binary format and are decoded here by
//! type; a type we cannot represent is an error that tells the assistant how
//! to cast it.

use std::error::Error;
use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use pgvector::Vector;
use postgres_protocol::types as wire;
use serde_json::Value as Json;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};
use tokio_postgres::types::{Format, FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

use super::numeric::{numeric_text_len, numeric_to_text};
use crate::bindings::zava::mcp::types::SqlValue;

type BoxError = Box<dyn Error + Sync + Send>;

/// A parameter as sent to PostgreSQL (always text format).
#[derive(Debug)]
pub struct Param<'a>(pub &'a SqlValue);

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let text = match self.0 {
            SqlValue::Vector(v) if sends_binary_vector(ty) => {
                return Vector::from(v.clone()).to_sql(ty, out);
            }
            SqlValue::Null => return Ok(IsNull::Yes),
            SqlValue::Boolean(b) => (if *b { "true" } else { "false" }).to_string(),
            SqlValue::Int(i) => i.to_string(),
            SqlValue::Float(f) => float_text(*f),
            SqlValue::Numeric(s)
            | SqlValue::Text(s)
            | SqlValue::Date(s)
            | SqlValue::Timestamp(s)
            | SqlValue::Uuid(s)
            | SqlValue::Json(s) => {
                if s.contains('\0') {
                    return Err("text parameters cannot contain NUL characters".into());
                }
                s.clone()
            }
            SqlValue::Vector(v) => vector_text(v),
        };
        out.put_slice(text.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, ty: &Type) -> Format {
        match self.0 {
            SqlValue::Vector(_) if sends_binary_vector(ty) => Format::Binary,
            _ => Format::Text,
        }
    }

    to_sql_checked!();
}

fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        (if f > 0.0 { "Infinity" } else { "-Infinity" }).into()
    } else {
        f.to_string()
    }
}

/// A vector goes to a `vector` parameter in pgvector's binary format.
fn sends_binary_vector(ty: &Type) -> bool {
    <Vector as ToSql>::accepts(ty)
}

/// A vector for any other parameter type (`halfvec`, `text`, an untyped
/// `$1`) goes as pgvector's text form, e.g. `[1,-0.5]`, which the server's
/// input function for that type parses. Written here because the `pgvector`
/// crate only writes the binary `vector` format, which `halfvec` or `text`
/// would misread.
fn vector_text(v: &[f32]) -> String {
    let mut text = String::with_capacity(v.len() * 8 + 2);
    text.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        let _ = write!(text, "{x}");
    }
    text.push(']');
    text
}

/// The raw bytes of one result column, whatever its type.
pub struct Raw<'a>(pub Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Raw(Some(raw)))
    }
    fn from_sql_null(_ty: &Type) -> Result<Self, BoxError> {
        Ok(Raw(None))
    }
    fn accepts(_ty: &Type) -> bool {
        true
    }
}

/// What the values of one result may still take in the host's memory.
/// Decoding charges every byte it is about to produce (numeric text, array
/// and JSON expansion included) *before* producing it, so a small value on
/// the wire that would expand to a large one (`1e131071::numeric` is a few
/// bytes on the wire and 131,072 characters as text) stops the read instead
/// of inflating the host.
#[derive(Debug)]
pub struct Budget {
    left: usize,
}

/// In-memory size of one value besides its heap bytes.
pub const VALUE_OVERHEAD: usize = std::mem::size_of::<SqlValue>();

impl Budget {
    pub fn new(bytes: usize) -> Self {
        Self { left: bytes }
    }

    /// Gives back what a transient value took once it is dropped.
    pub fn refund(&mut self, bytes: usize) {
        self.left = self.left.saturating_add(bytes);
    }

    pub fn charge(&mut self, bytes: usize) -> Result<(), DecodeError> {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => {
                self.left = 0;
                Err(DecodeError::OverBudget)
            }
        }
    }
}

/// Why a result value could not be represented.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("the result is larger than this server returns; select fewer rows or columns")]
    OverBudget,
    #[error(
        "type `{0}` cannot be returned by this server; cast the column to text (e.g. `col::text`)"
    )]
    Unsupported(String),
    #[error("malformed `{ty}` value from the server: {message}")]
    Malformed { ty: String, message: String },
}

/// True when [`decode`] can represent values of `ty`.
pub fn supported(ty: &Type) -> bool {
    match ty.kind() {
        Kind::Array(element) => supported(element),
        Kind::Domain(base) => supported(base),
        Kind::Enum(_) => true,
        _ => scalar_kind(ty).is_some(),
    }
}

#[derive(Clone, Copy)]
enum Scalar {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Text,
    Char,
    Bytea,
    Date,
    Timestamp,
    TimestampTz,
    Time,
    Interval,
    Uuid,
    Json,
    Jsonb,
    Vector,
}

fn scalar_kind(ty: &Type) -> Option<Scalar> {
    Some(match *ty {
        Type::BOOL => Scalar::Bool,
        Type::INT2 => Scalar::Int2,
        Type::INT4 => Scalar::Int4,
        Type::INT8 => Scalar::Int8,
        Type::OID => Scalar::Oid,
        Type::FLOAT4 => Scalar::Float4,
        Type::FLOAT8 => Scalar::Float8,
        Type::NUMERIC => Scalar::Numeric,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => Scalar::Text,
        Type::CHAR => Scalar::Char,
        Type::BYTEA => Scalar::Bytea,
        Type::DATE => Scalar::Date,
        Type::TIMESTAMP => Scalar::Timestamp,
        Type::TIMESTAMPTZ => Scalar::TimestampTz,
        Type::TIME => Scalar::Time,
        Type::INTERVAL => Scalar::Interval,
        Type::UUID => Scalar::Uuid,
        Type::JSON => Scalar::Json,
        Type::JSONB => Scalar::Jsonb,
        _ if ty.name() == "vector" => Scalar::Vector,
        _ if ty.name() == "citext" => Scalar::Text,
        _ => return None,
    })
}

/// Decodes one binary result value of type `ty`, charging `budget` for
/// what it produces.
pub fn decode(ty: &Type, raw: Option<&[u8]>, budget: &mut Budget) -> Result<SqlValue, DecodeError> {
    budget.charge(VALUE_OVERHEAD)?;
    let Some(raw) = raw else {
        return Ok(SqlValue::Null);
    };
    let malformed = |e: BoxError| DecodeError::Malformed {
        ty: ty.name().to_string(),
        message: e.to_string(),
    };
    match ty.kind() {
        Kind::Domain(base) => return decode(base, Some(raw), budget),
        Kind::Enum(_) => {
            budget.charge(raw.len())?;
            return Ok(SqlValue::Text(text(raw).map_err(malformed)?));
        }
        Kind::Array(element) => return array_json(element, raw, budget).map(SqlValue::Json),
        _ => {}
    }
    let kind = scalar_kind(ty).ok_or_else(|| DecodeError::Unsupported(ty.name().to_string()))?;
    budget.charge(produced_size(kind, raw).map_err(malformed)?)?;
    scalar(kind, ty, raw).map_err(malformed)
}

/// An upper bound on the heap bytes [`scalar`] produces for `raw`, known
/// before producing them.
fn produced_size(kind: Scalar, raw: &[u8]) -> Result<usize, BoxError> {
    Ok(match kind {
        Scalar::Bool
        | Scalar::Int2
        | Scalar::Int4
        | Scalar::Int8
        | Scalar::Oid
        | Scalar::Float4
        | Scalar::Float8 => 0,
        Scalar::Numeric => numeric_text_len(raw)?,
        Scalar::Text | Scalar::Json | Scalar::Jsonb | Scalar::Char => raw.len(),
        Scalar::Bytea => 2 + 2 * raw.len(),
        Scalar::Date | Scalar::Timestamp | Scalar::TimestampTz | Scalar::Time => 40,
        Scalar::Interval => 80,
        Scalar::Uuid => 36,
        Scalar::Vector => raw.len(),
    })
}

fn scalar(kind: Scalar, ty: &Type, raw: &[u8]) -> Result<SqlValue, BoxError> {
    Ok(match kind {
        Scalar::Bool => SqlValue::Boolean(wire::bool_from_sql(raw)?),
        Scalar::Int2 => SqlValue::Int(wire::int2_from_sql(raw)?.into()),
        Scalar::Int4 => SqlValue::Int(wire::int4_from_sql(raw)?.into()),
        Scalar::Int8 => SqlValue::Int(wire::int8_from_sql(raw)?),
        Scalar::Oid => SqlValue::Int(wire::oid_from_sql(raw)?.into()),
        Scalar::Float4 => SqlValue::Float(wire::float4_from_sql(raw)?.into()),
        Scalar::Float8 => SqlValue::Float(wire::float8_from_sql(raw)?),
        Scalar::Numeric => SqlValue::Numeric(numeric_to_text(raw)?),
        Scalar::Text => SqlValue::Text(text(raw)?),
        Scalar::Char => SqlValue::Text(char::from(wire::char_from_sql(raw)? as u8).to_string()),
        Scalar::Bytea => SqlValue::Text(format!("\\x{}", hex::encode(wire::bytea_from_sql(raw)))),
        Scalar::Date => SqlValue::Date(date_text(raw)?),
        Scalar::Timestamp | Scalar::TimestampTz => SqlValue::Timestamp(timestamp_text(ty, raw)?),
        Scalar::Time => SqlValue::Text(time_text(raw)?),
        Scalar::Interval => SqlValue::Text(interval_text(raw)?),
        Scalar::Uuid => {
            SqlValue::Uuid(uuid::Uuid::from_bytes(wire::uuid_from_sql(raw)?).to_string())
        }
        Scalar::Json => SqlValue::Json(text(raw)?),
        Scalar::Jsonb => match raw.split_first() {
            Some((1, json)) => SqlValue::Json(text(json)?),
            _ => return Err("unknown jsonb version".into()),
        },
        Scalar::Vector => SqlValue::Vector(vector_from_sql(ty, raw)?),
    })
}

/// pgvector's binary format (`dim: u16, unused: u16`, then `dim` f32s),
/// decoded by the `pgvector` crate. Its 0.4.2 release slices the buffer
/// without checking the length first (a short value would panic; its main
/// branch checks), so the length is checked here before it decodes.
fn vector_from_sql(ty: &Type, raw: &[u8]) -> Result<Vec<f32>, BoxError> {
    let dim = raw
        .get(..2)
        .map(|d| usize::from(u16::from_be_bytes([d[0], d[1]])));
    if dim.is_none_or(|dim| raw.len() != 4 + 4 * dim) {
        return Err("vector length does not match its dimension".into());
    }
    Ok(Vector::from_sql(ty, raw)?.into())
}

fn text(raw: &[u8]) -> Result<String, BoxError> {
    Ok(wire::text_from_sql(raw)?.to_string())
}

// Dates and times are decoded by tokio-postgres' `time` 0.3 types
// (`with-time-0_3`). `infinity` and `-infinity` travel as the largest and
// smallest integer of the wire type, which those types cannot hold (their
// decoding calls them out of range), so they are answered before it is asked.

fn date_text(raw: &[u8]) -> Result<String, BoxError> {
    Ok(match wire::date_from_sql(raw)? {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        _ => Date::from_sql(&Type::DATE, raw)
            .map_err(|_| "date out of range")?
            .to_string(),
    })
}

/// `timestamptz` is an instant, sent in UTC whatever the session's time
/// zone: RFC 3339 with `Z`. `timestamp` has no zone: the same without it.
fn timestamp_text(ty: &Type, raw: &[u8]) -> Result<String, BoxError> {
    Ok(match wire::timestamp_from_sql(raw)? {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        _ if *ty == Type::TIMESTAMPTZ => OffsetDateTime::from_sql(ty, raw)
            .map_err(|_| "timestamp out of range")?
            .format(&Rfc3339)?,
        _ => PrimitiveDateTime::from_sql(&Type::TIMESTAMP, raw)
            .map_err(|_| "timestamp out of range")?
            .assume_utc()
            .format(&Rfc3339)?
            .trim_end_matches('Z')
            .to_string(),
    })
}

/// A time of day. PostgreSQL allows `24:00:00`, which `time::Time` cannot
/// hold (its decoding would wrap it to midnight), so that one is answered here.
fn time_text(raw: &[u8]) -> Result<String, BoxError> {
    const END_OF_DAY: i64 = 86_400_000_000;
    if wire::time_from_sql(raw)? == END_OF_DAY {
        return Ok("24:00:00".into());
    }
    let t = Time::from_sql(&Type::TIME, raw)?;
    Ok(clock_text(
        t.hour().into(),
        t.minute(),
        t.second(),
        t.microsecond(),
    ))
}

/// `HH:MM:SS`, with `.ffffff` when there are microseconds.
fn clock_text(hours: u64, minutes: u8, seconds: u8, micros: u32) -> String {
    if micros == 0 {
        format!("{hours:02}:{minutes:02}:{seconds:02}")
    } else {
        format!("{hours:02}:{minutes:02}:{seconds:02}.{micros:06}")
    }
}

/// `interval` as PostgreSQL prints it by default (e.g. `1 year 2 mons 3 days 04:05:06`).
/// Written here: postgres-types has no interval type, and none of the `time`
/// crate's types holds months, days and a clock part past 24 hours apart.
fn interval_text(raw: &[u8]) -> Result<String, BoxError> {
    if raw.len() != 16 {
        return Err("interval must be 16 bytes".into());
    }
    let micros = i64::from_be_bytes(raw[0..8].try_into()?);
    let days = i32::from_be_bytes(raw[8..12].try_into()?);
    let months = i32::from_be_bytes(raw[12..16].try_into()?);
    let mut parts = Vec::new();
    let (years, months) = (months / 12, months % 12);
    let plural =
        |n: i32, one: &str, many: &str| format!("{n} {}", if n.abs() == 1 { one } else { many });
    if years != 0 {
        parts.push(plural(years, "year", "years"));
    }
    if months != 0 {
        parts.push(plural(months, "mon", "mons"));
    }
    if days != 0 {
        parts.push(plural(days, "day", "days"));
    }
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 { "-" } else { "" };
        let micros = micros.unsigned_abs();
        let seconds = micros / 1_000_000;
        let clock = clock_text(
            seconds / 3600,
            (seconds / 60 % 60) as u8,
            (seconds % 60) as u8,
            (micros % 1_000_000) as u32,
        );
        parts.push(format!("{sign}{clock}"));
    }
    Ok(parts.join(" "))
}

/// An array as JSON text (nested for multi-dimensional arrays), written
/// element by element and charged as it grows.
fn array_json(element: &Type, raw: &[u8], budget: &mut Budget) -> Result<String, DecodeError> {
    use fallible_iterator::FallibleIterator;
    let malformed = |e: BoxError| DecodeError::Malformed {
        ty: format!("{}[]", element.name()),
        message: e.to_string(),
    };
    let array = wire::array_from_sql(raw).map_err(malformed)?;
    let dims: Vec<usize> = array
        .dimensions()
        .map(|d| Ok(usize::try_from(d.len).unwrap_or(0)))
        .collect()
        .map_err(malformed)?;
    let values: Vec<Option<&[u8]>> = array.values().collect().map_err(malformed)?;
    let mut out = String::new();
    if dims.is_empty() {
        budget.charge(2)?;
        out.push_str("[]");
        return Ok(out);
    }
    let mut values = values.into_iter();
    write_nested(element, &dims, &mut values, &mut out, budget)?;
    Ok(out)
}

fn write_nested<'a>(
    element: &Type,
    dims: &[usize],
    values: &mut impl Iterator<Item = Option<&'a [u8]>>,
    out: &mut String,
    budget: &mut Budget,
) -> Result<(), DecodeError> {
    let Some((&n, rest)) = dims.split_first() else {
        let before = budget.left;
        let value = decode(element, values.next().flatten(), budget)?;
        let decoded = before - budget.left;
        budget.charge(json_len(&value))?;
        push_json(out, &value);
        // The JSON text stays; the decoded value is dropped here.
        budget.refund(decoded);
        return Ok(());
    };
    budget.charge(2 + n)?;
    out.push('[');
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        write_nested(element, rest, values, out, budget)?;
    }
    out.push(']');
    Ok(())
}

/// An upper bound on the length of `value` as JSON text.
fn json_len(value: &SqlValue) -> usize {
    match value {
        SqlValue::Null | SqlValue::Boolean(_) | SqlValue::Int(_) | SqlValue::Float(_) => 32,
        SqlValue::Json(s) => s.len(),
        SqlValue::Numeric(s)
        | SqlValue::Text(s)
        | SqlValue::Date(s)
        | SqlValue::Timestamp(s)
        | SqlValue::Uuid(s) => {
            // Quotes, and escapes: `\u0001` is six bytes for one.
            2 + s
                .bytes()
                .map(|b| match b {
                    b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
                    0..0x20 => 6,
                    _ => 1,
                })
                .sum::<usize>()
        }
        SqlValue::Vector(v) => 2 + v.len() * 24,
    }
}

/// Appends `value` as JSON (a `json` value is embedded as it is: PostgreSQL
/// only ever sends valid JSON).
fn push_json(out: &mut String, value: &SqlValue) {
    match value {
        SqlValue::Json(s) => out.push_str(s),
        other => out.push_str(&to_json(other).to_string()),
    }
}

/// A value as JSON: numbers where they are exact, text otherwise (numeric
/// stays a string so no digit is lost; JSON values are embedded).
pub fn to_json(value: &SqlValue) -> Json {
    match value {
        SqlValue::Null => Json::Null,
        SqlValue::Boolean(b) => Json::Bool(*b),
        SqlValue::Int(i) => Json::from(*i),
        SqlValue::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or_else(|| Json::String(float_text(*f))),
        SqlValue::Numeric(s)
        | SqlValue::Text(s)
        | SqlValue::Date(s)
        | SqlValue::Timestamp(s)
        | SqlValue::Uuid(s) => Json::String(s.clone()),
        SqlValue::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| Json::String(s.clone())),
        SqlValue::Vector(v) => Json::Array(v.iter().map(|x| Json::from(f64::from(*x))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param_text(value: SqlValue) -> Option<String> {
        let mut out = BytesMut::new();
        match Param(&value).to_sql(&Type::TEXT, &mut out).unwrap() {
            IsNull::Yes => None,
            IsNull::No => Some(String::from_utf8(out.to_vec()).unwrap()),
        }
    }

    #[test]
    fn parameters_are_sent_as_postgres_input_text() {
        assert_eq!(param_text(SqlValue::Null), None);
        assert_eq!(param_text(SqlValue::Boolean(true)).unwrap(), "true");
        assert_eq!(param_text(SqlValue::Int(-42)).unwrap(), "-42");
        assert_eq!(param_text(SqlValue::Float(0.1)).unwrap(), "0.1");
        assert_eq!(param_text(SqlValue::Float(f64::NAN)).unwrap(), "NaN");
        assert_eq!(
            param_text(SqlValue::Float(f64::NEG_INFINITY)).unwrap(),
            "-Infinity"
        );
        assert_eq!(
            param_text(SqlValue::Numeric("12.50".into())).unwrap(),
            "12.50"
        );
        assert_eq!(
            param_text(SqlValue::Vector(vec![1.0, -0.5])).unwrap(),
            "[1,-0.5]"
        );
        let mut out = BytesMut::new();
        assert!(
            Param(&SqlValue::Text("a\0b".into()))
                .to_sql(&Type::TEXT, &mut out)
                .is_err()
        );
    }

    #[test]
    fn vectors_travel_in_pgvector_binary_format_to_and_from_vector_columns() {
        // An extension type: its oid differs per database, its name does not.
        let vector = Type::new("vector".into(), 16_385, Kind::Simple, "public".into());
        let value = SqlValue::Vector(vec![1.0, -0.5]);
        assert!(matches!(
            Param(&value).encode_format(&vector),
            Format::Binary
        ));
        assert!(matches!(
            Param(&value).encode_format(&Type::TEXT),
            Format::Text
        ));
        let mut raw = BytesMut::new();
        Param(&value).to_sql(&vector, &mut raw).unwrap();
        assert_eq!(raw.len(), 4 + 2 * 4);
        assert_eq!(dec(&vector, Some(&raw)).unwrap(), value);
        for short in [&raw[..1], &raw[..6], &raw[..raw.len() - 1]] {
            let error = dec(&vector, Some(short)).unwrap_err();
            assert!(matches!(error, DecodeError::Malformed { .. }), "{error}");
        }
    }

    fn dec(ty: &Type, raw: Option<&[u8]>) -> Result<SqlValue, DecodeError> {
        decode(ty, raw, &mut Budget::new(1 << 20))
    }

    /// A one-dimensional array in the binary wire format.
    fn int_array(values: &[Option<i32>]) -> Vec<u8> {
        let mut raw = Vec::new();
        raw.extend_from_slice(&1i32.to_be_bytes()); // dimensions
        raw.extend_from_slice(&1i32.to_be_bytes()); // has nulls
        raw.extend_from_slice(&Type::INT4.oid().to_be_bytes());
        raw.extend_from_slice(&(values.len() as i32).to_be_bytes());
        raw.extend_from_slice(&1i32.to_be_bytes()); // lower bound
        for v in values {
            match v {
                None => raw.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(v) => {
                    raw.extend_from_slice(&4i32.to_be_bytes());
                    raw.extend_from_slice(&v.to_be_bytes());
                }
            }
        }
        raw
    }

    #[test]
    fn arrays_are_json_text_and_charged_as_they_grow() {
        let raw = int_array(&[Some(1), None, Some(-3)]);
        assert_eq!(
            dec(&Type::INT4_ARRAY, Some(&raw)).unwrap(),
            SqlValue::Json("[1,null,-3]".into())
        );
        let many = int_array(&vec![Some(7); 10_000]);
        let mut small = Budget::new(4096);
        assert_eq!(
            decode(&Type::INT4_ARRAY, Some(&many), &mut small),
            Err(DecodeError::OverBudget)
        );
    }

    #[test]
    fn a_huge_numeric_is_refused_before_it_is_written_out() {
        // 1e131071: ten bytes on the wire, 131,072 characters as text.
        let mut raw = Vec::new();
        for w in [1u16, 32767, 0, 0, 10] {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        let mut budget = Budget::new(100_000);
        assert_eq!(
            decode(&Type::NUMERIC, Some(&raw), &mut budget),
            Err(DecodeError::OverBudget)
        );
        let mut enough = Budget::new(200_000);
        match decode(&Type::NUMERIC, Some(&raw), &mut enough).unwrap() {
            SqlValue::Numeric(text) => assert_eq!(text.len(), 2 + 32_767 * 4),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_lengths_bound_the_escaped_text() {
        for value in [
            SqlValue::Text("plain".into()),
            SqlValue::Text("\u{1}\u{2}\"\\\n".into()),
            SqlValue::Int(i64::MIN),
            SqlValue::Float(-1.234_567_890_123_456_7e-300),
            SqlValue::Vector(vec![-1.234_567_8e-30; 3]),
        ] {
            assert!(
                to_json(&value).to_string().len() <= json_len(&value),
                "{value:?}"
            );
        }
    }

    #[test]
    fn scalars_decode_from_binary() {
        assert_eq!(dec(&Type::INT4, None).unwrap(), SqlValue::Null);
        assert_eq!(
            dec(&Type::BOOL, Some(&[1])).unwrap(),
            SqlValue::Boolean(true)
        );
        assert_eq!(
            dec(&Type::INT2, Some(&7i16.to_be_bytes())).unwrap(),
            SqlValue::Int(7)
        );
        assert_eq!(
            dec(&Type::INT8, Some(&(-9i64).to_be_bytes())).unwrap(),
            SqlValue::Int(-9)
        );
        assert_eq!(
            dec(&Type::FLOAT8, Some(&2.5f64.to_be_bytes())).unwrap(),
            SqlValue::Float(2.5)
        );
        assert_eq!(
            dec(&Type::TEXT, Some(b"Zava")).unwrap(),
            SqlValue::Text("Zava".into())
        );
        assert_eq!(
            dec(&Type::JSONB, Some(b"\x01{\"a\":1}")).unwrap(),
            SqlValue::Json("{\"a\":1}".into())
        );
        let id = uuid::Uuid::from_u128(0xf47ac10b_58cc_4372_a567_0e02b2c3d479);
        assert_eq!(
            dec(&Type::UUID, Some(id.as_bytes())).unwrap(),
            SqlValue::Uuid("f47ac10b-58cc-4372-a567-0e02b2c3d479".into())
        );
    }

    #[test]
    fn dates_and_times_are_iso_8601() {
        // 2024-03-01 is 8826 days after 2000-01-01.
        let date = |days: i32| date_text(&days.to_be_bytes());
        assert_eq!(date(8826).unwrap(), "2024-03-01");
        assert_eq!(date(-1).unwrap(), "1999-12-31");
        assert_eq!(date(i32::MAX).unwrap(), "infinity");
        assert_eq!(date(i32::MIN).unwrap(), "-infinity");
        // 10000-01-01 (20 x 400 years later) is a PostgreSQL date, beyond what `time` holds.
        assert_eq!(date(2_921_939).unwrap(), "9999-12-31");
        assert_eq!(
            date(2_921_940).unwrap_err().to_string(),
            "date out of range"
        );
        let noon = 8826i64 * 86_400_000_000 + 12 * 3_600_000_000 + 500_000;
        let timestamp = |ty: &Type, micros: i64| timestamp_text(ty, &micros.to_be_bytes());
        assert_eq!(
            timestamp(&Type::TIMESTAMPTZ, noon).unwrap(),
            "2024-03-01T12:00:00.5Z"
        );
        assert_eq!(
            timestamp(&Type::TIMESTAMP, noon).unwrap(),
            "2024-03-01T12:00:00.5"
        );
        assert_eq!(timestamp(&Type::TIMESTAMPTZ, i64::MAX).unwrap(), "infinity");
        assert_eq!(timestamp(&Type::TIMESTAMP, i64::MIN).unwrap(), "-infinity");
        let time = |micros: i64| time_text(&micros.to_be_bytes());
        assert_eq!(time(3_723_000_001).unwrap(), "01:02:03.000001");
        assert_eq!(time(0).unwrap(), "00:00:00");
        assert_eq!(time(86_400_000_000).unwrap(), "24:00:00");
        let mut interval = Vec::new();
        interval.extend_from_slice(&(3_600_000_000i64).to_be_bytes());
        interval.extend_from_slice(&3i32.to_be_bytes());
        interval.extend_from_slice(&14i32.to_be_bytes());
        assert_eq!(
            interval_text(&interval).unwrap(),
            "1 year 2 mons 3 days 01:00:00"
        );
    }

    #[test]
    fn unsupported_types_say_how_to_cast() {
        let error = dec(&Type::POINT, Some(&[0; 16])).unwrap_err();
        assert!(error.to_string().contains("::text"), "{error}");
        assert!(!supported(&Type::POINT));
        assert!(supported(&Type::INT4_ARRAY));
        assert!(supported(&Type::NUMERIC));
    }

    #[test]
    fn json_keeps_numerics_exact() {
        assert_eq!(
            to_json(&SqlValue::Numeric("0.10".into())),
            Json::String("0.10".into())
        );
        assert_eq!(to_json(&SqlValue::Int(3)), Json::from(3));
        assert_eq!(
            to_json(&SqlValue::Json("[1,2]".into())),
            serde_json::json!([1, 2])
        );
        assert_eq!(
            to_json(&SqlValue::Float(f64::INFINITY)),
            Json::String("Infinity".into())
        );
    }
}
