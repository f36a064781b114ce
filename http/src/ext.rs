//! What the trigger said beyond the HTTP request, reachable from the request: path parameters,
//! query string parameters, stage variables, the trigger's request context and the Lambda
//! [`Context`].

use http::Request;

use crate::Context;
use crate::event::RequestContext;

/// Names with one or more values each, in the order the event gave them: query string
/// parameters, path parameters, stage variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryMap {
    entries: Vec<(String, Vec<String>)>,
}

static EMPTY: QueryMap = QueryMap::new();

impl QueryMap {
    /// An empty map.
    pub const fn new() -> Self {
        QueryMap {
            entries: Vec::new(),
        }
    }

    /// The first value of `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.all(name)?.first().map(String::as_str)
    }

    /// Every value of `name` (`None` when it is absent).
    pub fn all(&self, name: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Each name with its values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a value to `name`.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value.into()),
            None => self.entries.push((name, vec![value.into()])),
        }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for QueryMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = QueryMap::new();
        for (k, v) in iter {
            map.push(k, v);
        }
        map
    }
}

impl<K: Into<String>, V: Into<String>, const N: usize> From<[(K, V); N]> for QueryMap {
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

/// Request extensions, one type each so they cannot be mixed up.
#[derive(Debug, Clone)]
pub(crate) struct PathParameters(pub(crate) QueryMap);
#[derive(Debug, Clone)]
pub(crate) struct QueryStringParameters(pub(crate) QueryMap);
#[derive(Debug, Clone)]
pub(crate) struct StageVariables(pub(crate) QueryMap);

/// What the trigger said about a request, beyond method, URI, headers and body.
///
/// ```
/// use lamina_http::{Body, QueryMap, RequestExt};
///
/// let req = http::Request::new(Body::empty())
///     .with_path_parameters(QueryMap::from([("id", "42")]));
/// assert_eq!(req.path_parameters().first("id"), Some("42"));
/// assert!(req.query_string_parameters().is_empty());
/// ```
pub trait RequestExt {
    /// The path parameters of the API Gateway route or resource (`/pets/{id}` → `id`); empty
    /// for ALB and Function URLs, which have no routes.
    fn path_parameters(&self) -> &QueryMap;
    /// The query string parameters, decoded, every value of each.
    fn query_string_parameters(&self) -> &QueryMap;
    /// The API Gateway stage's variables.
    fn stage_variables(&self) -> &QueryMap;
    /// The trigger's request context (none on a request that did not come from an event).
    fn request_context(&self) -> Option<&RequestContext>;
    /// The Lambda invocation's context: request id, deadline, function ARN, trace id.
    fn lambda_context(&self) -> Option<&Context>;

    /// Sets the path parameters (for tests of handlers).
    fn with_path_parameters(self, params: QueryMap) -> Self;
    /// Sets the query string parameters (for tests; the URI is left as it is).
    fn with_query_string_parameters(self, params: QueryMap) -> Self;
    /// Sets the stage variables (for tests).
    fn with_stage_variables(self, vars: QueryMap) -> Self;
    /// Sets the request context (for tests).
    fn with_request_context(self, context: RequestContext) -> Self;
    /// Sets the Lambda context (for tests).
    fn with_lambda_context(self, context: Context) -> Self;
}

impl<B> RequestExt for Request<B> {
    fn path_parameters(&self) -> &QueryMap {
        self.extensions()
            .get::<PathParameters>()
            .map_or(&EMPTY, |p| &p.0)
    }

    fn query_string_parameters(&self) -> &QueryMap {
        self.extensions()
            .get::<QueryStringParameters>()
            .map_or(&EMPTY, |p| &p.0)
    }

    fn stage_variables(&self) -> &QueryMap {
        self.extensions()
            .get::<StageVariables>()
            .map_or(&EMPTY, |p| &p.0)
    }

    fn request_context(&self) -> Option<&RequestContext> {
        self.extensions().get::<RequestContext>()
    }

    fn lambda_context(&self) -> Option<&Context> {
        self.extensions().get::<Context>()
    }

    fn with_path_parameters(mut self, params: QueryMap) -> Self {
        self.extensions_mut().insert(PathParameters(params));
        self
    }

    fn with_query_string_parameters(mut self, params: QueryMap) -> Self {
        self.extensions_mut().insert(QueryStringParameters(params));
        self
    }

    fn with_stage_variables(mut self, vars: QueryMap) -> Self {
        self.extensions_mut().insert(StageVariables(vars));
        self
    }

    fn with_request_context(mut self, context: RequestContext) -> Self {
        self.extensions_mut().insert(context);
        self
    }

    fn with_lambda_context(mut self, context: Context) -> Self {
        self.extensions_mut().insert(context);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_map_keeps_order_and_every_value() {
        let map: QueryMap = [("b", "1"), ("a", "2"), ("b", "3")].into();
        assert_eq!(map.first("b"), Some("1"));
        assert_eq!(map.all("b").unwrap(), ["1", "3"]);
        assert_eq!(map.all("c"), None);
        let names: Vec<&str> = map.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(map.len(), 2);
    }
}
