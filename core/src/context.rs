//! The invocation `Context`, decoded from the head of a `/next` response.

use core::mem::MaybeUninit;

use heapless::{LinearMap, String};
use serde::Deserialize;

use crate::base64;
use crate::buf::{eq_ignore_case, eq_token, parse_u64, trim_ows};
use crate::id::Id;
use crate::jsonread::{Key, Reader};
use crate::response::{DecodeError, MAX_HEADERS, parse_head};

/// Longest function ARN kept.
pub const MAX_ARN: usize = 256;
/// Longest X-Ray trace id kept.
pub const MAX_TRACE_ID: usize = 512;
/// Longest tenant id kept.
pub const MAX_TENANT_ID: usize = 256;
/// Largest client context accepted, after base64 decoding.
pub const MAX_CLIENT_CONTEXT: usize = 8 * 1024;
/// Largest Cognito identity document accepted.
pub const MAX_IDENTITY: usize = 1024;

/// Longest string field inside the client context or the identity.
pub const MAX_FIELD: usize = 256;
/// Most entries kept in the client context's `custom` and `env` maps.
pub const MAX_MAP_ENTRIES: usize = 16;

/// A string→string map from the client context (`custom`, `env`).
pub type StringMap = LinearMap<String<64>, String<MAX_FIELD>, MAX_MAP_ENTRIES>;

/// What the Runtime API told lamina about one invocation.
///
/// A handler gets it as `&Context`; the driver decodes it from the `/next` response's head:
///
/// ```
/// let mut ctx = lamina_core::Context::default();
/// let warnings = ctx
///     .decode(
///         b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8\r\n\
///           Lambda-Runtime-Deadline-Ms: 1700000003000\r\n\
///           Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1\r\n\r\n",
///     )
///     .unwrap();
/// assert!(warnings.is_empty());
/// assert_eq!(ctx.request_id.as_str(), "8476a536-e9f4-11e8");
/// assert_eq!(ctx.deadline_ms, 1_700_000_003_000);
/// assert!(ctx.xray_trace_id.as_deref().unwrap().starts_with("Root=1-"));
/// assert!(ctx.client_context.is_none() && ctx.invocation_id.is_none());
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Context {
    /// `Lambda-Runtime-Aws-Request-Id`, validated.
    pub request_id: Id,
    /// `Lambda-Runtime-Deadline-Ms`: the deadline, in milliseconds since the Unix epoch, as sent
    /// (emulators send values in 1970; they are passed on, not judged).
    pub deadline_ms: u64,
    /// `Lambda-Runtime-Invoked-Function-Arn` (empty when absent or too long).
    pub invoked_function_arn: String<MAX_ARN>,
    /// `Lambda-Runtime-Trace-Id`.
    pub xray_trace_id: Option<String<MAX_TRACE_ID>>,
    /// `Lambda-Runtime-Client-Context`, from the AWS mobile SDKs.
    pub client_context: Option<ClientContext>,
    /// `Lambda-Runtime-Cognito-Identity`, from the AWS mobile SDKs.
    pub identity: Option<CognitoIdentity>,
    /// `Lambda-Runtime-Aws-Tenant-Id`, for tenant-isolated functions.
    pub tenant_id: Option<String<MAX_TENANT_ID>>,
    /// `Lambda-Runtime-Invocation-Id`: echoed on this invocation's `/response` and `/error`.
    pub invocation_id: Option<Id>,
}

/// The client context sent by the AWS mobile SDKs. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientContext {
    /// The calling application.
    #[serde(default)]
    pub client: Option<ClientApplication>,
    /// Custom values set by the application.
    #[serde(default)]
    pub custom: StringMap,
    /// Environment values set by the SDK.
    #[serde(default)]
    pub env: StringMap,
}

/// The calling application, from the client context's `client` object.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientApplication {
    /// `installation_id`.
    #[serde(default)]
    pub installation_id: Option<String<MAX_FIELD>>,
    /// `app_title`.
    #[serde(default)]
    pub app_title: Option<String<MAX_FIELD>>,
    /// `app_version_name`.
    #[serde(default)]
    pub app_version_name: Option<String<MAX_FIELD>>,
    /// `app_version_code`.
    #[serde(default)]
    pub app_version_code: Option<String<MAX_FIELD>>,
    /// `app_package_name`.
    #[serde(default)]
    pub app_package_name: Option<String<MAX_FIELD>>,
}

/// The Amazon Cognito identity that made the call. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct CognitoIdentity {
    /// `cognitoIdentityId`.
    #[serde(default, rename = "cognitoIdentityId")]
    pub identity_id: Option<String<MAX_FIELD>>,
    /// `cognitoIdentityPoolId`.
    #[serde(default, rename = "cognitoIdentityPoolId")]
    pub identity_pool_id: Option<String<MAX_FIELD>>,
}

/// Optional fields that were present but dropped; the invocation goes on without them and the
/// transport logs one warning each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Warnings(u8);

impl Warnings {
    /// No warning.
    pub const NONE: Warnings = Warnings(0);
    /// The function ARN was longer than [`MAX_ARN`] or not UTF-8.
    pub const ARN_DROPPED: Warnings = Warnings(1);
    /// The trace id was longer than [`MAX_TRACE_ID`] or not UTF-8.
    pub const TRACE_ID_DROPPED: Warnings = Warnings(2);
    /// The tenant id was longer than [`MAX_TENANT_ID`] or not UTF-8.
    pub const TENANT_ID_DROPPED: Warnings = Warnings(4);
    /// The client context did not parse or was over [`MAX_CLIENT_CONTEXT`].
    pub const CLIENT_CONTEXT_DROPPED: Warnings = Warnings(8);
    /// The Cognito identity did not parse or was over [`MAX_IDENTITY`].
    pub const IDENTITY_DROPPED: Warnings = Warnings(16);

    /// The message of warning bit `bit` (a `match`, not a table of `&str`: that would cost a
    /// relocation per entry in a position-independent binary).
    fn message(bit: u32) -> &'static str {
        match bit {
            0 => "function ARN dropped (too long or not UTF-8)",
            1 => "trace id dropped (too long or not UTF-8)",
            2 => "tenant id dropped (too long or not UTF-8)",
            3 => {
                "client context dropped (not JSON or base64 JSON of the expected shape, or too large)"
            }
            _ => "cognito identity dropped (not JSON of the expected shape, or too large)",
        }
    }

    /// Whether there is no warning.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every warning in `other` is set.
    pub fn contains(self, other: Warnings) -> bool {
        self.0 & other.0 == other.0
    }

    /// One line of text per warning set.
    pub fn messages(self) -> impl Iterator<Item = &'static str> {
        (0..5)
            .filter(move |bit| self.0 & (1 << bit) != 0)
            .map(Warnings::message)
    }
}

impl core::ops::BitOr for Warnings {
    type Output = Warnings;
    fn bitor(self, rhs: Warnings) -> Warnings {
        Warnings(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for Warnings {
    fn bitor_assign(&mut self, rhs: Warnings) {
        self.0 |= rhs.0;
    }
}

/// Why a `/next` response is not a usable invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidInvocation {
    /// No `Lambda-Runtime-Aws-Request-Id`.
    MissingRequestId,
    /// A request id that is empty, too long, or holds bytes outside `[A-Za-z0-9._:-]`.
    InvalidRequestId,
    /// No `Lambda-Runtime-Deadline-Ms`.
    MissingDeadline,
    /// A deadline that is not a plain decimal number.
    InvalidDeadline,
    /// A `Lambda-Runtime-Invocation-Id` that cannot be echoed safely.
    InvalidInvocationId,
    /// The event is larger than the configured maximum.
    EventTooLarge,
    /// The response is not valid HTTP.
    Http(DecodeError),
}

impl InvalidInvocation {
    /// A short description, for logs and error reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            InvalidInvocation::MissingRequestId => "missing Lambda-Runtime-Aws-Request-Id",
            InvalidInvocation::InvalidRequestId => "invalid Lambda-Runtime-Aws-Request-Id",
            InvalidInvocation::MissingDeadline => "missing Lambda-Runtime-Deadline-Ms",
            InvalidInvocation::InvalidDeadline => "invalid Lambda-Runtime-Deadline-Ms",
            InvalidInvocation::InvalidInvocationId => "invalid Lambda-Runtime-Invocation-Id",
            InvalidInvocation::EventTooLarge => "event larger than the configured maximum",
            InvalidInvocation::Http(e) => e.as_str(),
        }
    }
}

impl core::fmt::Display for InvalidInvocation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::error::Error for InvalidInvocation {}

impl Context {
    /// Fills `self` from a complete `/next` head, reusing its storage.
    ///
    /// On `Err`, `self.request_id` holds the request id when a valid one was read (check
    /// [`Id::is_empty`]), so the invocation can still be answered.
    pub fn decode(&mut self, head: &[u8]) -> Result<Warnings, InvalidInvocation> {
        let mut storage = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        match parse_head(head, &mut storage).and_then(|p| p.ok_or(DecodeError::InvalidHead)) {
            Ok((_, _, _, headers)) => self.decode_fields(headers),
            Err(e) => {
                self.clear();
                salvage_into(head, &mut self.request_id);
                Err(InvalidInvocation::Http(e))
            }
        }
    }

    /// Fills `self` from the header fields of a `/next` response (as the decoder hands them
    /// out), reusing its storage. Errors as [`decode`](Context::decode).
    pub fn decode_fields(
        &mut self,
        headers: &[httparse::Header<'_>],
    ) -> Result<Warnings, InvalidInvocation> {
        // Every field is written in place: a `Context` is ~10 KB of bounded strings, and moving
        // whole ones around cost more than decoding them. The function ARN, the same for every
        // invocation, is kept when it comes again unchanged (not validated and copied again).
        self.clear_but_arn();
        let mut arn_seen = false;
        let mut warnings = Warnings::NONE;
        let (mut request_id, mut invocation_id, mut deadline) = (Seen::No, Seen::No, Seen::No);
        for h in headers {
            let Some(field) = Field::of(h.name.as_bytes()) else {
                continue;
            };
            let value = trim_ows(h.value);
            match field {
                // The first of each counts.
                Field::RequestId if request_id == Seen::No => {
                    request_id = Seen::from(self.request_id.set(value));
                }
                Field::InvocationId if invocation_id == Seen::No => {
                    let id = self.invocation_id.get_or_insert_with(Id::default);
                    invocation_id = Seen::from(id.set(value));
                }
                Field::Deadline if deadline == Seen::No => match parse_u64(value) {
                    Some(ms) => {
                        self.deadline_ms = ms;
                        deadline = Seen::Valid;
                    }
                    None => deadline = Seen::Invalid,
                },
                Field::RequestId | Field::InvocationId | Field::Deadline => {}
                Field::Arn => {
                    arn_seen = true;
                    if self.invoked_function_arn.as_bytes() != value
                        && !set_string(&mut self.invoked_function_arn, value)
                    {
                        warnings |= Warnings::ARN_DROPPED;
                    }
                }
                Field::TraceId => {
                    if !set_optional(&mut self.xray_trace_id, value) {
                        warnings |= Warnings::TRACE_ID_DROPPED;
                    }
                }
                Field::TenantId => {
                    if !set_optional(&mut self.tenant_id, value) {
                        warnings |= Warnings::TENANT_ID_DROPPED;
                    }
                }
                // Decoded in place: these are kilobytes each, not worth a copy.
                Field::ClientContext => {
                    let cc = self.client_context.insert(ClientContext::default());
                    if decode_client_context(value, cc).is_none() {
                        self.client_context = None;
                        warnings |= Warnings::CLIENT_CONTEXT_DROPPED;
                    }
                }
                Field::Identity => {
                    let id = self.identity.insert(CognitoIdentity::default());
                    if decode_identity(value, id).is_none() {
                        self.identity = None;
                        warnings |= Warnings::IDENTITY_DROPPED;
                    }
                }
            }
        }
        // An invalid invocation id is dropped before any return: the id kept for answering a
        // malformed invocation is a valid one or none (never the emptied placeholder).
        if invocation_id != Seen::Valid {
            self.invocation_id = None;
        }
        if !arn_seen {
            self.invoked_function_arn.clear();
        }
        match request_id {
            Seen::No => return Err(InvalidInvocation::MissingRequestId),
            Seen::Invalid => return Err(InvalidInvocation::InvalidRequestId),
            Seen::Valid => {}
        }
        if invocation_id == Seen::Invalid {
            return Err(InvalidInvocation::InvalidInvocationId);
        }
        match deadline {
            Seen::No => Err(InvalidInvocation::MissingDeadline),
            Seen::Invalid => Err(InvalidInvocation::InvalidDeadline),
            Seen::Valid => Ok(warnings),
        }
    }

    /// Empties every field (keeping the storage).
    pub fn clear(&mut self) {
        self.clear_but_arn();
        self.invoked_function_arn.clear();
    }

    fn clear_but_arn(&mut self) {
        self.request_id.clear();
        self.deadline_ms = 0;
        self.xray_trace_id = None;
        self.client_context = None;
        self.identity = None;
        self.tenant_id = None;
        self.invocation_id = None;
    }
}

#[cfg(feature = "std")]
impl Context {
    /// The invocation's deadline on the wall clock (the `std` feature, which lamina's std
    /// transports turn on).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let mut ctx = lamina_core::Context::default();
    /// ctx.deadline_ms = 1_700_000_003_000;
    /// assert_eq!(ctx.deadline(), UNIX_EPOCH + Duration::from_millis(1_700_000_003_000));
    /// ```
    pub fn deadline(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.deadline_ms)
    }

    /// Time left until the deadline (zero once it has passed: emulators send deadlines in
    /// 1970).
    ///
    /// ```
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    ///
    /// let mut ctx = lamina_core::Context::default();
    /// ctx.deadline_ms = 600_000; // as cargo-lambda sends it
    /// assert_eq!(ctx.remaining(), Duration::ZERO);
    /// let in_a_minute = SystemTime::now() + Duration::from_secs(60);
    /// ctx.deadline_ms = in_a_minute.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    /// assert!(ctx.remaining() > Duration::from_secs(58));
    /// ```
    pub fn remaining(&self) -> std::time::Duration {
        self.deadline()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
    }
}

/// The `Lambda-Runtime-*` headers a `/next` response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    RequestId,
    Deadline,
    Arn,
    TraceId,
    TenantId,
    InvocationId,
    ClientContext,
    Identity,
}

impl Field {
    /// Which one `name` is (case-insensitive). Headers are told apart by length and the first
    /// letter after `lambda-runtime-` before one comparison of the whole name confirms: every
    /// header of every `/next` passes here.
    fn of(name: &[u8]) -> Option<Field> {
        const AFTER_PREFIX: usize = b"lambda-runtime-".len();
        let (field, full): (Field, &[u8]) = match (name.len(), name.get(AFTER_PREFIX)? | 0x20) {
            (29, b'a') => (Field::RequestId, b"lambda-runtime-aws-request-id"),
            (29, b'c') => (Field::ClientContext, b"lambda-runtime-client-context"),
            (26, _) => (Field::Deadline, b"lambda-runtime-deadline-ms"),
            (35, _) => (Field::Arn, b"lambda-runtime-invoked-function-arn"),
            (23, _) => (Field::TraceId, b"lambda-runtime-trace-id"),
            (28, b'a') => (Field::TenantId, b"lambda-runtime-aws-tenant-id"),
            (28, b'i') => (Field::InvocationId, b"lambda-runtime-invocation-id"),
            (31, _) => (Field::Identity, b"lambda-runtime-cognito-identity"),
            _ => return None,
        };
        eq_token(name, full).then_some(field)
    }
}

/// Whether a header was seen, and whether its value was good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    No,
    Valid,
    Invalid,
}

impl From<bool> for Seen {
    fn from(valid: bool) -> Seen {
        if valid { Seen::Valid } else { Seen::Invalid }
    }
}

/// Copies `value` into `field` if it is UTF-8 and fits; empties it otherwise.
fn set_string<const N: usize>(field: &mut String<N>, value: &[u8]) -> bool {
    field.clear();
    match core::str::from_utf8(value) {
        // Through the view: one copy of heapless's code for every capacity.
        Ok(s) => field.as_mut_view().push_str(s).is_ok(),
        Err(_) => false,
    }
}

/// [`set_string`] into an optional field, reusing its storage; `None` when it does not fit.
fn set_optional<const N: usize>(field: &mut Option<String<N>>, value: &[u8]) -> bool {
    let ok = set_string(field.get_or_insert_with(String::new), value);
    if !ok {
        *field = None;
    }
    ok
}

/// Plain JSON, or base64 of JSON (cargo-lambda), up to [`MAX_CLIENT_CONTEXT`] bytes.
fn decode_client_context(value: &[u8], cc: &mut ClientContext) -> Option<()> {
    let mut decoded = [0u8; MAX_CLIENT_CONTEXT];
    let json: &[u8] = if value.first() == Some(&b'{') {
        if value.len() > MAX_CLIENT_CONTEXT {
            return None;
        }
        value
    } else {
        let n = base64::decode(value, &mut decoded)?;
        decoded.get(..n)?
    };
    Reader::new(json).document(|r| {
        let mut seen = Members::default();
        r.object(&mut |r, key| {
            if key.is("client") {
                seen.once(0)?;
                if r.peek_null() {
                    r.literal(b"null")?;
                } else {
                    client_application(r, cc.client.insert(ClientApplication::default()))?;
                }
            } else if key.is("custom") {
                seen.once(1)?;
                string_map(r, &mut cc.custom)?;
            } else if key.is("env") {
                seen.once(2)?;
                string_map(r, &mut cc.env)?;
            } else {
                r.skip_at(0)?;
            }
            Some(())
        })
    })
}

/// Reads a client application into `app` (a default one).
fn client_application(r: &mut Reader<'_>, app: &mut ClientApplication) -> Option<()> {
    const NAMES: &[u8; 5 * NAME] = b"installation_id         app_title               \
                                      app_version_name        app_version_code        \
                                      app_package_name        ";
    optional_members(
        r,
        NAMES,
        &mut [
            &mut app.installation_id,
            &mut app.app_title,
            &mut app.app_version_name,
            &mut app.app_version_code,
            &mut app.app_package_name,
        ],
    )
}

/// Room for a member name in the tables [`optional_members`] reads.
const NAME: usize = 24;

/// Reads an object whose members of interest are optional strings: the one named by the `i`th
/// name of `names` into `slots[i]`, any other member skipped. Names are packed in one string,
/// [`NAME`] bytes each, space-padded: a table of `&str` would cost a relocation per entry in a
/// position-independent binary. (One reader for the client application and the identity.)
fn optional_members(
    r: &mut Reader<'_>,
    names: &[u8],
    slots: &mut [&mut Option<String<MAX_FIELD>>],
) -> Option<()> {
    let mut seen = Members::default();
    let (names, _) = names.as_chunks::<NAME>();
    r.object(&mut |r, key| {
        let field = match &key {
            Key::Short(k) => names
                .iter()
                .position(|name| name.trim_ascii_end() == k.as_bytes()),
            Key::Long => None,
        };
        let Some((i, slot)) = field.and_then(|i| Some((i, slots.get_mut(i)?))) else {
            return r.skip_at(0);
        };
        seen.once(i)?;
        r.optional_into(slot)
    })
}

/// Reads a map of strings into `map` (an empty one).
#[inline(always)]
fn string_map(r: &mut Reader<'_>, map: &mut StringMap) -> Option<()> {
    r.object(&mut |r, key| {
        let Key::Short(k) = key else { return None };
        let mut v = String::new();
        r.string_into(&mut v)?;
        map.insert(k, v).ok().map(drop)
    })
}

fn decode_identity(value: &[u8], id: &mut CognitoIdentity) -> Option<()> {
    if value.len() > MAX_IDENTITY {
        return None;
    }
    const NAMES: &[u8; 2 * NAME] = b"cognitoIdentityId       cognitoIdentityPoolId   ";
    Reader::new(value).document(|r| {
        optional_members(
            r,
            NAMES,
            &mut [&mut id.identity_id, &mut id.identity_pool_id],
        )
    })
}

/// Fields of one object already read: a field given twice makes the document invalid, as a
/// serde deserializer has it.
#[derive(Default)]
struct Members(u8);

impl Members {
    fn once(&mut self, i: usize) -> Option<()> {
        let bit = 1u8.checked_shl(i as u32)?;
        (self.0 & bit == 0).then(|| self.0 |= bit)
    }
}

/// Finds a valid request id in a head that could not be parsed whole (too large, or broken
/// after the id), looking only at complete lines, and only up to the blank line that ends the
/// head: `head` may run on into the body, whose bytes are not headers.
pub fn salvage_request_id(head: &[u8]) -> Option<Id> {
    let mut id = Id::EMPTY;
    salvage_into(head, &mut id).then_some(id)
}

/// [`salvage_request_id`] written into `id` (the lane's own, not moved in); on `false` it is
/// left empty.
pub(crate) fn salvage_into(head: &[u8], id: &mut Id) -> bool {
    id.clear();
    // Complete lines only: those before the last line end.
    let Some(complete) = head.iter().rposition(|&b| b == b'\n') else {
        return false;
    };
    let mut lines = head
        .get(..complete)
        .unwrap_or_default()
        .split(|&b| b == b'\n');
    lines.next(); // the status line
    let mut found = false;
    for line in lines {
        if line.is_empty() || line == b"\r" {
            // The end of the head.
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line.get(..colon).unwrap_or_default();
        if eq_ignore_case(name, b"lambda-runtime-aws-request-id") {
            let value = line.get(colon + 1..).unwrap_or_default();
            // A pattern, not `strip_suffix`: that was a function of its own.
            let value = match value {
                [v @ .., b'\r'] => v,
                v => v,
            };
            // Two ids: trust neither.
            if found || !id.set(trim_ows(value)) {
                id.clear();
                return false;
            }
            found = true;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// The decoders as values, for comparing with serde's.
    fn decode_client_context(value: &[u8]) -> Option<ClientContext> {
        let mut cc = ClientContext::default();
        super::decode_client_context(value, &mut cc).map(|()| cc)
    }

    fn decode_identity(value: &[u8]) -> Option<CognitoIdentity> {
        let mut id = CognitoIdentity::default();
        super::decode_identity(value, &mut id).map(|()| id)
    }
    use std::format;
    use std::vec::Vec;

    const TYPICAL: &[u8] = b"HTTP/1.1 200 OK\r\n\
Content-Type: application/json\r\n\
Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n\
Lambda-Runtime-Deadline-Ms: 1542409706888\r\n\
Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:123456789012:function:custom-runtime\r\n\
Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\
Date: Fri, 16 Nov 2018 22:21:46 GMT\r\n\
Content-Length: 17\r\n\r\n";

    fn head_with(extra: &str) -> Vec<u8> {
        let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
        v.extend_from_slice(extra.as_bytes());
        v.extend_from_slice(b"\r\n");
        v
    }

    #[test]
    fn decodes_a_typical_next_head() {
        let mut ctx = Context::default();
        let w = ctx.decode(TYPICAL).unwrap();
        assert!(w.is_empty());
        assert_eq!(
            ctx.request_id.as_str(),
            "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
        );
        assert_eq!(ctx.deadline_ms, 1542409706888);
        assert_eq!(
            ctx.invoked_function_arn.as_str(),
            "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime"
        );
        assert_eq!(
            ctx.xray_trace_id.as_deref(),
            Some("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
        );
        assert!(ctx.client_context.is_none() && ctx.identity.is_none());
        assert!(ctx.tenant_id.is_none() && ctx.invocation_id.is_none());
    }

    #[test]
    fn header_names_are_case_insensitive_and_storage_is_reused() {
        let mut ctx = Context::default();
        let h = head_with(
            "lambda-runtime-aws-request-id: abc\r\nLAMBDA-RUNTIME-DEADLINE-MS: 600000\r\n\
             Lambda-Runtime-Aws-Tenant-Id: tenant-1\r\nlambda-runtime-invocation-id: inv:1\r\n",
        );
        ctx.decode(&h).unwrap();
        assert_eq!(ctx.request_id.as_str(), "abc");
        assert_eq!(ctx.deadline_ms, 600000);
        assert_eq!(ctx.tenant_id.as_deref(), Some("tenant-1"));
        assert_eq!(ctx.invocation_id.as_ref().map(Id::as_str), Some("inv:1"));
        // A second decode forgets what the first one had.
        ctx.decode(TYPICAL).unwrap();
        assert!(ctx.tenant_id.is_none() && ctx.invocation_id.is_none());
    }

    #[test]
    fn an_invalid_invocation_id_is_never_kept_beside_an_invalid_request_id() {
        // Found by the next_headers fuzz target: the request id's error returned before the
        // invalid invocation id was dropped, leaving an empty placeholder id behind.
        let mut ctx = Context::default();
        let h = head_with(
            "Lambda-Runtime-Aws-Request-Id: a)b\r\nLambda-Runtime-Deadline-Ms: 1\r\n\
             Lambda-Runtime-Invocation-Id: i\u{95}\r\n",
        );
        assert_eq!(ctx.decode(&h), Err(InvalidInvocation::InvalidRequestId));
        assert!(ctx.invocation_id.is_none());
        let h = head_with("Lambda-Runtime-Deadline-Ms: 1\r\nLambda-Runtime-Invocation-Id: x y\r\n");
        assert_eq!(ctx.decode(&h), Err(InvalidInvocation::MissingRequestId));
        assert!(ctx.invocation_id.is_none());
    }

    #[test]
    fn invalid_ids_and_deadlines() {
        let mut ctx = Context::default();
        let cases = [
            (
                "Lambda-Runtime-Deadline-Ms: 1\r\n",
                InvalidInvocation::MissingRequestId,
            ),
            (
                "Lambda-Runtime-Aws-Request-Id: a/b\r\nLambda-Runtime-Deadline-Ms: 1\r\n",
                InvalidInvocation::InvalidRequestId,
            ),
            (
                "Lambda-Runtime-Aws-Request-Id: ../../init/error\r\nLambda-Runtime-Deadline-Ms: 1\r\n",
                InvalidInvocation::InvalidRequestId,
            ),
            (
                "Lambda-Runtime-Aws-Request-Id: a\r\n",
                InvalidInvocation::MissingDeadline,
            ),
            (
                "Lambda-Runtime-Aws-Request-Id: a\r\nLambda-Runtime-Deadline-Ms: soon\r\n",
                InvalidInvocation::InvalidDeadline,
            ),
            (
                "Lambda-Runtime-Aws-Request-Id: a\r\nLambda-Runtime-Deadline-Ms: 1\r\nLambda-Runtime-Invocation-Id: x y\r\n",
                InvalidInvocation::InvalidInvocationId,
            ),
        ];
        for (headers, want) in cases {
            assert_eq!(
                ctx.decode(&head_with(headers)).unwrap_err(),
                want,
                "{headers}"
            );
        }
        // The id stays known when only the deadline is wrong, so the invocation can be answered.
        let _ = ctx.decode(&head_with(
            "Lambda-Runtime-Aws-Request-Id: good-id\r\nLambda-Runtime-Deadline-Ms: -5\r\n",
        ));
        assert_eq!(ctx.request_id.as_str(), "good-id");
        let _ = ctx.decode(&head_with(
            "Lambda-Runtime-Aws-Request-Id: bad/id\r\nLambda-Runtime-Deadline-Ms: 5\r\n",
        ));
        assert!(ctx.request_id.is_empty());
    }

    const CLIENT_CONTEXT: &str = r#"{"client":{"installation_id":"inst-1","app_title":"My \"App\"","app_version_name":"1.0","app_version_code":"42","app_package_name":"com.example"},"custom":{"k":"v"},"env":{"platform":"Android","locale":"en_US"}}"#;

    #[test]
    fn client_context_as_json_or_base64() {
        let mut ctx = Context::default();
        let base = "Lambda-Runtime-Aws-Request-Id: a\r\nLambda-Runtime-Deadline-Ms: 1\r\n";
        let w = ctx
            .decode(&head_with(&format!(
                "{base}Lambda-Runtime-Client-Context: {CLIENT_CONTEXT}\r\n"
            )))
            .unwrap();
        assert!(w.is_empty());
        let cc = ctx.client_context.clone().unwrap();
        let client = cc.client.as_ref().unwrap();
        assert_eq!(client.installation_id.as_deref(), Some("inst-1"));
        assert_eq!(client.app_title.as_deref(), Some("My \"App\""));
        assert_eq!(client.app_package_name.as_deref(), Some("com.example"));
        assert_eq!(cc.custom.get("k").map(|s| s.as_str()), Some("v"));
        assert_eq!(cc.env.get("locale").map(|s| s.as_str()), Some("en_US"));

        let mut b64 = std::vec![0u8; 1024];
        let mut w = crate::buf::Writer::new(&mut b64);
        crate::base64::encode(&mut w, CLIENT_CONTEXT.as_bytes());
        let n = w.finish().unwrap();
        let b64 = std::str::from_utf8(&b64[..n]).unwrap();
        ctx.decode(&head_with(&format!(
            "{base}Lambda-Runtime-Client-Context: {b64}\r\n"
        )))
        .unwrap();
        assert_eq!(ctx.client_context, Some(cc));

        // Every field optional.
        ctx.decode(&head_with(&format!(
            "{base}Lambda-Runtime-Client-Context: {{}}\r\n"
        )))
        .unwrap();
        assert_eq!(ctx.client_context, Some(ClientContext::default()));
    }

    #[test]
    fn bad_optional_fields_are_dropped_not_fatal() {
        let mut ctx = Context::default();
        let base = "Lambda-Runtime-Aws-Request-Id: a\r\nLambda-Runtime-Deadline-Ms: 1\r\n";
        let long = "x".repeat(MAX_TRACE_ID + 1);
        let w = ctx
            .decode(&head_with(&format!(
                "{base}Lambda-Runtime-Client-Context: not json\r\n\
                 Lambda-Runtime-Cognito-Identity: {{\"cognitoIdentityId\": 5}}\r\n\
                 Lambda-Runtime-Trace-Id: {long}\r\n"
            )))
            .unwrap();
        assert!(w.contains(Warnings::CLIENT_CONTEXT_DROPPED));
        assert!(w.contains(Warnings::IDENTITY_DROPPED));
        assert!(w.contains(Warnings::TRACE_ID_DROPPED));
        assert_eq!(w.messages().count(), 3);
        assert!(ctx.client_context.is_none() && ctx.identity.is_none());
        assert_eq!(ctx.request_id.as_str(), "a");
    }

    #[test]
    fn cognito_identity() {
        let mut ctx = Context::default();
        ctx.decode(&head_with(
            "Lambda-Runtime-Aws-Request-Id: a\r\nLambda-Runtime-Deadline-Ms: 1\r\n\
             Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"us-east-1:123\",\"cognitoIdentityPoolId\":\"pool\",\"extra\":[1,{\"a\":null}]}\r\n",
        ))
        .unwrap();
        let id = ctx.identity.unwrap();
        assert_eq!(id.identity_id.as_deref(), Some("us-east-1:123"));
        assert_eq!(id.identity_pool_id.as_deref(), Some("pool"));
    }

    /// Found by the `next_headers` fuzz target: the salvage read on past the blank line that
    /// ends the head, so a line of the body (the event) could supply the request id of an
    /// invocation whose body framing broke, or veto the real one.
    #[test]
    fn salvage_stops_at_the_end_of_the_head() {
        let body_only = b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n\
Lambda-Runtime-Aws-Request-Id: victim\r\n";
        assert_eq!(salvage_request_id(body_only), None);
        let bare_lf = b"HTTP/1.1 200 OK\n\nLambda-Runtime-Aws-Request-Id: victim\n";
        assert_eq!(salvage_request_id(bare_lf), None);
        let both = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: real\r\n\r\n\
Lambda-Runtime-Aws-Request-Id: other\r\n";
        assert_eq!(salvage_request_id(both).unwrap().as_str(), "real");
    }

    #[test]
    fn salvages_ids_from_broken_heads() {
        let mut h =
            b"HTTP/1.1 200 OK\r\nlambda-runtime-aws-request-id: salvaged-1\r\nX-Pad: ".to_vec();
        h.extend(std::iter::repeat_n(b'a', 100));
        assert_eq!(salvage_request_id(&h).unwrap().as_str(), "salvaged-1");
        // A cut id is not trusted.
        assert_eq!(
            salvage_request_id(b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: abc"),
            None
        );
        assert_eq!(
            salvage_request_id(b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: a/b\r\n"),
            None
        );
        assert_eq!(
            salvage_request_id(
                b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: a\r\nLambda-Runtime-Aws-Request-Id: b\r\n"
            ),
            None
        );
    }

    #[test]
    fn the_function_arn_is_kept_replaced_or_dropped() {
        let mut ctx = Context::default();
        let with_arn = |arn: &[u8]| {
            let mut h =
                head_with("Lambda-Runtime-Aws-Request-Id: a\r\nLambda-Runtime-Deadline-Ms: 1\r\n");
            h.truncate(h.len() - 2);
            h.extend_from_slice(b"Lambda-Runtime-Invoked-Function-Arn: ");
            h.extend_from_slice(arn);
            h.extend_from_slice(b"\r\n\r\n");
            h
        };
        assert!(ctx.decode(&with_arn(b"arn:1")).unwrap().is_empty());
        assert_eq!(ctx.invoked_function_arn.as_str(), "arn:1");
        assert!(ctx.decode(&with_arn(b"arn:1")).unwrap().is_empty());
        assert_eq!(ctx.invoked_function_arn.as_str(), "arn:1");
        assert!(ctx.decode(&with_arn(b"arn:2")).unwrap().is_empty());
        assert_eq!(ctx.invoked_function_arn.as_str(), "arn:2");
        let w = ctx.decode(&with_arn(b"arn:\xff")).unwrap();
        assert_eq!(w, Warnings::ARN_DROPPED);
        assert_eq!(ctx.invoked_function_arn.as_str(), "");
        assert!(ctx.decode(&with_arn(b"arn:2")).unwrap().is_empty());
        let long = [b'a'; MAX_ARN + 1];
        assert_eq!(ctx.decode(&with_arn(&long)).unwrap(), Warnings::ARN_DROPPED);
        assert_eq!(ctx.invoked_function_arn.as_str(), "");
        assert!(ctx.decode(&with_arn(b"arn:2")).unwrap().is_empty());
        // A head without one forgets it, on success and on failure alike.
        ctx.decode(&head_with(
            "Lambda-Runtime-Aws-Request-Id: a\r\nLambda-Runtime-Deadline-Ms: 1\r\n",
        ))
        .unwrap();
        assert_eq!(ctx.invoked_function_arn.as_str(), "");
        assert!(ctx.decode(&with_arn(b"arn:2")).unwrap().is_empty());
        let _ = ctx.decode(&head_with("Lambda-Runtime-Deadline-Ms: 1\r\n"));
        assert_eq!(ctx.invoked_function_arn.as_str(), "");
    }

    mod reused {
        use super::super::*;
        use proptest::prelude::*;
        extern crate std;
        use std::format;
        use std::vec::Vec;

        /// One header line: a `/next` field (name in random case) with a value from a pool
        /// that holds good, bad, too long and non-UTF-8 values, or an unrelated header.
        fn line() -> impl Strategy<Value = Vec<u8>> {
            let names = proptest::sample::select(
                &[
                    "Lambda-Runtime-Aws-Request-Id",
                    "Lambda-Runtime-Deadline-Ms",
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "Lambda-Runtime-Trace-Id",
                    "Lambda-Runtime-Aws-Tenant-Id",
                    "Lambda-Runtime-Invocation-Id",
                    "Lambda-Runtime-Client-Context",
                    "Lambda-Runtime-Cognito-Identity",
                    "Lambda-Runtime-Aws-Request-Ix",
                    "Lambda-Runtime-Deadline-Mx",
                    "Lambda-Runtime-Invoked-Function-Ar",
                    "Content-Type",
                    "Content-Length",
                    "X-Lambda-Runtime-Trace-Id",
                ][..],
            );
            let long = std::string::String::from_utf8(std::vec![b'a'; 300]).unwrap();
            let values = proptest::sample::select(std::vec![
                "id-1".into(),
                "id-2".into(),
                "a/b".into(),
                "123".into(),
                "arn:aws:lambda:us-east-1:1:function:f".into(),
                "arn:aws:lambda:us-east-1:1:function:g".into(),
                "{}".into(),
                "".into(),
                long,
            ]);
            (
                names,
                proptest::collection::vec(any::<bool>(), 40),
                values,
                any::<bool>(),
            )
                .prop_map(|(name, upper, value, bad_byte)| {
                    let mut l: Vec<u8> = name
                        .bytes()
                        .zip(upper)
                        .map(|(b, u)| {
                            if u {
                                b.to_ascii_uppercase()
                            } else {
                                b.to_ascii_lowercase()
                            }
                        })
                        .collect();
                    l.extend_from_slice(b": ");
                    l.extend_from_slice(value.as_bytes());
                    if bad_byte {
                        l.push(0xff);
                    }
                    l.extend_from_slice(b"\r\n");
                    l
                })
        }

        fn head() -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::vec(line(), 0..8).prop_map(|lines| {
                let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
                for l in lines {
                    h.extend_from_slice(&l);
                }
                h.extend_from_slice(b"\r\n");
                h
            })
        }

        proptest! {
            #[test]
            fn a_reused_context_decodes_as_a_fresh_one(heads in proptest::collection::vec(head(), 1..5)) {
                let mut reused = Context::default();
                for h in heads {
                    let mut fresh = Context::default();
                    let a = reused.decode(&h);
                    let b = fresh.decode(&h);
                    prop_assert_eq!(a, b);
                    prop_assert_eq!(format!("{reused:?}"), format!("{fresh:?}"));
                }
            }
        }
    }

    mod against_serde {
        use super::super::*;
        use super::{decode_client_context, decode_identity};
        use proptest::prelude::*;
        use serde_json::{Map, Value, json};
        extern crate std;
        use std::string::String as StdString;
        use std::vec::Vec;

        fn string() -> impl Strategy<Value = StdString> {
            prop_oneof![
                "[a-z_]{0,8}",
                ".{0,12}",
                "[a-z]{60,70}",
                "[\\u{0}-\\u{1f}\\\\\"/é😀]{0,6}",
                "x{250,260}",
            ]
        }

        fn scalar() -> impl Strategy<Value = Value> {
            prop_oneof![
                string().prop_map(Value::String),
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| json!(n)),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(|f| json!(f)),
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            scalar().prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::vec((string(), inner), 0..4)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        fn member(keys: &'static [&'static str]) -> impl Strategy<Value = (StdString, Value)> {
            (
                prop_oneof![
                    proptest::sample::select(keys).prop_map(StdString::from),
                    string()
                ],
                value(),
            )
        }

        fn object(keys: &'static [&'static str], n: usize) -> impl Strategy<Value = Value> {
            proptest::collection::vec(member(keys), 0..n)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
        }

        const APP: &[&str] = &[
            "installation_id",
            "app_title",
            "app_version_name",
            "app_version_code",
            "app_package_name",
        ];

        fn string_map() -> impl Strategy<Value = Value> {
            proptest::collection::vec((string(), string()), 0..20).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
            })
        }

        fn client_context() -> impl Strategy<Value = Value> {
            // serde also reads a struct from an array of its fields in order; lamina reads the
            // documents the mobile SDKs send, objects, so arrays are left out where a struct is.
            let not_array = || value().prop_filter("an array", |v| !v.is_array());
            (
                proptest::option::of(prop_oneof![object(APP, 6), not_array()]),
                proptest::option::of(prop_oneof![string_map(), value()]),
                proptest::option::of(prop_oneof![string_map(), value()]),
                object(&["x"], 3),
            )
                .prop_map(|(client, custom, env, extra)| {
                    let mut m = extra.as_object().cloned().unwrap_or_default();
                    for (k, v) in [("client", client), ("custom", custom), ("env", env)] {
                        if let Some(v) = v {
                            m.insert(k.into(), v);
                        }
                    }
                    Value::Object(m)
                })
        }

        proptest! {
            #[test]
            fn client_context_as_serde_reads_it(doc in client_context(), cut in any::<u16>()) {
                let text = serde_json::to_string(&doc).unwrap();
                let ours = decode_client_context(text.as_bytes());
                let fits = text.len() <= MAX_CLIENT_CONTEXT;
                let theirs = serde_json::from_str::<ClientContext>(&text).ok().filter(|_| fits);
                prop_assert_eq!(&ours, &theirs, "{}", text);
                // A document cut short is refused by both.
                let mut cut = usize::from(cut) % text.len().max(1);
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                if let Some(t) = text.get(..cut) {
                    let ours = decode_client_context(t.as_bytes());
                    let theirs = serde_json::from_str::<ClientContext>(t).ok();
                    prop_assert_eq!(ours, theirs, "{}", t);
                }
            }

            #[test]
            fn identity_as_serde_reads_it(
                doc in object(&["cognitoIdentityId", "cognitoIdentityPoolId"], 4),
                // Structure-breaking bytes; how far serde is lenient with invalid UTF-8 in what
                // it skips is not something to copy byte for byte.
                junk in proptest::collection::vec(0x20u8..0x7f, 0..3),
                at in any::<u16>(),
            ) {
                let doc = serde_json::to_string(&doc).unwrap();
                let mut at = usize::from(at) % (doc.len() + 1);
                while !doc.is_char_boundary(at) {
                    at -= 1;
                }
                let mut text = doc.into_bytes();
                text.splice(at..at, junk);
                let ours = decode_identity(&text);
                let theirs = serde_json::from_slice::<CognitoIdentity>(&text)
                    .ok()
                    .filter(|_| text.len() <= MAX_IDENTITY);
                prop_assert_eq!(ours, theirs, "{}", StdString::from_utf8_lossy(&text));
            }
        }

        #[test]
        fn duplicate_fields_and_escapes() {
            let cases: [&[u8]; 6] = [
                br#"{"client":{"app_title":"a","app_title":"b"}}"#,
                br#"{"custom":{"k":"1","k":"2"}}"#,
                br#"{"custom":{"k":"\ud83d\ude00 \u00e9\n"}}"#,
                br#"{"custom":{"k":"\ud83d"}}"#,
                br#"{"env":{}, "other": [1, {"a": [true, null, -0.5e-3]}]} "#,
                br#"{"client":null,"custom":{},"env":{"a":"b"}} x"#,
            ];
            for c in cases {
                let theirs = serde_json::from_slice::<ClientContext>(c).ok();
                assert_eq!(
                    decode_client_context(c),
                    theirs,
                    "{}",
                    StdString::from_utf8_lossy(c)
                );
            }
            let v: Vec<u8> = Vec::new();
            assert_eq!(decode_client_context(&v), None);
        }
    }
}
