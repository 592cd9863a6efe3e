//! A held binding's value, compact.
//!
//! Every holding records, per binding, the value in host-manifest form
//! (`{"address": "2001:db8::5", "network": "net6"}`). As a
//! `serde_json::Value` each of those objects is a B-tree node of about 630
//! bytes whatever its two or three fields: at 5,000 holdings that was the
//! biggest part of the memory a whole load touches (docs/performance.md,
//! "`status` at 5,000 holdings"). [`HeldValue`] keeps an object as its
//! fields in a boxed slice sorted by name, which prints, compares and reads
//! (`get`) like the object did: the store's rows, `berth status` and every
//! message show the same bytes.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// See the module doc. An object (what berth writes) is its fields sorted by
/// name, each name once (a repeated name keeps its last value, as a
/// `serde_json::Value` object did); any other JSON a store may hold is kept
/// as it is, for the store's checks to judge and `status` to print.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldValue(Repr);

#[derive(Debug, Clone, PartialEq)]
enum Repr {
    Fields(Box<[(Box<str>, Value)]>),
    Other(Value),
}

impl HeldValue {
    /// The value of field `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match &self.0 {
            Repr::Fields(f) => f.iter().find(|(k, _)| &**k == key).map(|(_, v)| v),
            Repr::Other(_) => None,
        }
    }

    /// The fields, sorted by name, if this is an object.
    pub fn fields(&self) -> Option<impl Iterator<Item = (&str, &Value)>> {
        match &self.0 {
            Repr::Fields(f) => Some(f.iter().map(|(k, v)| (&**k, v))),
            Repr::Other(_) => None,
        }
    }

    /// An object from its fields in any order.
    fn from_fields(mut fields: Vec<(Box<str>, Value)>) -> HeldValue {
        // Stable: of a name given twice, the later value is the later entry,
        // moved into the kept one.
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        fields.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            same
        });
        HeldValue(Repr::Fields(fields.into_boxed_slice()))
    }
}

impl From<&Value> for HeldValue {
    fn from(v: &Value) -> HeldValue {
        match v {
            Value::Object(m) => HeldValue(Repr::Fields(
                // A `Value` object iterates in name order, each name once.
                m.iter()
                    .map(|(k, v)| (Box::from(k.as_str()), v.clone()))
                    .collect(),
            )),
            other => HeldValue(Repr::Other(other.clone())),
        }
    }
}

impl From<Value> for HeldValue {
    fn from(v: Value) -> HeldValue {
        match v {
            Value::Object(m) => HeldValue(Repr::Fields(
                m.into_iter()
                    .map(|(k, v)| (k.into_boxed_str(), v))
                    .collect(),
            )),
            other => HeldValue(Repr::Other(other)),
        }
    }
}

/// Equal to the `serde_json::Value` it was read from or made of.
impl PartialEq<Value> for HeldValue {
    fn eq(&self, other: &Value) -> bool {
        match (&self.0, other) {
            // Both in name order, each name once.
            (Repr::Fields(f), Value::Object(m)) => {
                f.len() == m.len()
                    && f.iter()
                        .zip(m)
                        .all(|((k, v), (mk, mv))| **k == **mk && v == mv)
            }
            (Repr::Other(v), other) => v == other,
            (Repr::Fields(_), _) => false,
        }
    }
}

/// `value["path"]`: the field, or `null` when there is none (as indexing a
/// `serde_json::Value` reads).
impl std::ops::Index<&str> for HeldValue {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        const NULL: &Value = &Value::Null;
        self.get(key).unwrap_or(NULL)
    }
}

/// Compact JSON, the text `serde_json::Value` displays (names sorted).
impl fmt::Display for HeldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for HeldValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Repr::Fields(f) => {
                let mut m = s.serialize_map(Some(f.len()))?;
                for (k, v) in f.iter() {
                    m.serialize_entry(&**k, v)?;
                }
                m.end()
            }
            Repr::Other(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for HeldValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<HeldValue, D::Error> {
        d.deserialize_any(HeldVisitor)
    }
}

/// Reads an object into fields and anything else into a `Value`.
struct HeldVisitor;

impl<'de> Visitor<'de> for HeldVisitor {
    type Value = HeldValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeldValue, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(4));
        while let Some(field) = map.next_entry::<Box<str>, Value>()? {
            fields.push(field);
        }
        Ok(HeldValue::from_fields(fields))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<HeldValue, A::Error> {
        let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(HeldValue(Repr::Other(v)))
    }

    fn visit_bool<E>(self, v: bool) -> Result<HeldValue, E> {
        Ok(HeldValue(Repr::Other(Value::Bool(v))))
    }

    fn visit_i64<E>(self, v: i64) -> Result<HeldValue, E> {
        Ok(HeldValue(Repr::Other(Value::from(v))))
    }

    fn visit_u64<E>(self, v: u64) -> Result<HeldValue, E> {
        Ok(HeldValue(Repr::Other(Value::from(v))))
    }

    fn visit_f64<E>(self, v: f64) -> Result<HeldValue, E> {
        Ok(HeldValue(Repr::Other(Value::from(v))))
    }

    fn visit_str<E>(self, v: &str) -> Result<HeldValue, E> {
        Ok(HeldValue(Repr::Other(Value::from(v))))
    }

    fn visit_string<E>(self, v: String) -> Result<HeldValue, E> {
        Ok(HeldValue(Repr::Other(Value::String(v))))
    }

    fn visit_unit<E>(self) -> Result<HeldValue, E> {
        Ok(HeldValue(Repr::Other(Value::Null)))
    }

    fn visit_none<E>(self) -> Result<HeldValue, E> {
        Ok(HeldValue(Repr::Other(Value::Null)))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<HeldValue, D::Error> {
        d.deserialize_any(HeldVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Read from `text`, a `HeldValue` prints, displays, reads and compares
    /// like the `serde_json::Value` read from it.
    fn same_as_a_value(text: &str) {
        let held: HeldValue = serde_json::from_str(text).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&held).unwrap(),
            value.to_string(),
            "{text}"
        );
        assert_eq!(
            serde_json::to_string_pretty(&held).unwrap(),
            serde_json::to_string_pretty(&value).unwrap()
        );
        assert_eq!(held.to_string(), value.to_string());
        assert_eq!(held, value);
        assert_eq!(HeldValue::from(&value), held);
        assert_eq!(HeldValue::from(value.clone()), held);
        // Read back from a `Value` (the JSON state file's path) as well.
        assert_eq!(
            serde_json::from_value::<HeldValue>(value.clone()).unwrap(),
            held
        );
        if let Value::Object(m) = &value {
            for (k, v) in m {
                assert_eq!(held.get(k), Some(v));
                assert_eq!(&held[k.as_str()], v);
            }
            let names: Vec<&str> = held.fields().unwrap().map(|(k, _)| k).collect();
            assert_eq!(names, m.keys().map(String::as_str).collect::<Vec<_>>());
        } else {
            assert!(held.fields().is_none());
        }
        assert_eq!(held.get("absent"), None);
        assert_eq!(held["absent"], Value::Null);
    }

    #[test]
    fn objects_and_anything_else_read_as_a_value_does() {
        for text in [
            r#"{"address": "2001:db8::5", "network": "net6"}"#,
            r#"{"network": "net6", "address": "2001:db8::5"}"#,
            r#"{"host_port": 8080, "protocol": "udp", "bind": "::1"}"#,
            r#"{"env": {"B": "2", "A": "1"}, "mounts": [], "devices": ["/dev/x"]}"#,
            r#"{"a": 1, "b": 2, "a": 3}"#,
            r#"{"z\u0000": null, "é": true, "\"": 1.5}"#,
            "{}",
            "null",
            "[1, {\"b\": 1, \"a\": 2}]",
            "\"text\"",
            "-7",
            "18446744073709551615",
            "2.5",
            "false",
        ] {
            same_as_a_value(text);
        }
    }

    #[test]
    fn a_repeated_name_keeps_its_last_value() {
        let held: HeldValue = serde_json::from_str(r#"{"a": 1, "b": 0, "a": 3, "a": 4}"#).unwrap();
        assert_eq!(held, json!({"a": 4, "b": 0}));
        assert_eq!(held.fields().unwrap().count(), 2);
    }

    #[test]
    fn a_different_value_is_not_equal() {
        let held = HeldValue::from(json!({"a": 1, "b": 2}));
        assert_ne!(held, json!({"a": 1}));
        assert_ne!(held, json!({"a": 1, "b": 3}));
        assert_ne!(held, json!({"a": 1, "c": 2}));
        assert_ne!(held, json!([1, 2]));
        assert_ne!(HeldValue::from(json!(null)), json!({}));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-z:/.0-9\"\\\\é]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-d]{1,2}", inner), 0..5)
                    .prop_map(|fields| { Value::Object(fields.into_iter().collect()) }),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_reads_as_a_value_does(v in json_value(), keys in prop::collection::vec("[a-d]{1,2}", 0..6)) {
            same_as_a_value(&v.to_string());
            // An object with repeated names, written by hand.
            let fields: Vec<String> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| format!("\"{k}\": {i}"))
                .collect();
            same_as_a_value(&format!("{{{}}}", fields.join(", ")));
        }
    }
}
