//! The JSON Schema of `spec.yaml`, generated from the types of [`super`].
//!
//! Editors that speak the YAML language server protocol validate and
//! complete a spec as an instructor types, from the schema that the first
//! line of every `spec.yaml` names:
//!
//! ```yaml
//! # yaml-language-server: $schema=../../specs/spec.schema.json
//! ```
//!
//! The schema is derived (`schemars`) from the same structs the grader
//! parses, with their doc comments as descriptions, so it cannot say
//! anything the parser does not. The types with a hand-written
//! `Deserialize` get a hand-written schema here. `specs/spec.schema.json`
//! is the committed copy; `grader schema` prints it afresh, and a test
//! fails when the two differ.
//!
//! The schema checks the shape of a spec. What only [`super::validate`]
//! can check (that a named node exists, that steps start nodes in an order
//! that can run) stays the grader's job.

use std::borrow::Cow;

use handout::MsgType;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::transcript::Item;
use super::{Dur, ExitExpect, LabSpec, SIGNALS, SignalName, Size, StopStep, TypeName};

/// The schema as committed in `specs/spec.schema.json`: JSON Schema draft
/// 7 (the draft editors support best), pretty-printed, with a final newline.
pub fn generate() -> String {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<LabSpec>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is JSON");
    text.push('\n');
    text
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A number and a unit, without a space: `250ms`, `2s`, `1.5s`, `1m` (at most 24 hours).",
            "type": "string",
            "pattern": "^[0-9]+(\\.[0-9]+)?(ms|s|m)$",
            "examples": ["250ms", "2s", "1m"]
        })
    }
}

impl JsonSchema for Size {
    fn schema_name() -> Cow<'static, str> {
        "Size".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Bytes, or a number and a unit: `64 KiB`, `256 MiB`, `4 GiB`.",
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string", "pattern": "^[0-9]+ ?(B|KiB|MiB|GiB)$"}
            ],
            "examples": ["256 MiB", "4 GiB"]
        })
    }
}

/// A string that is one of `names`.
fn one_of(description: &str, names: Vec<&str>) -> Schema {
    json_schema!({
        "description": description,
        "type": "string",
        "enum": names
    })
}

impl JsonSchema for TypeName {
    fn schema_name() -> Cow<'static, str> {
        "MessageType".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        one_of(
            "A message type, written as the course prints it.",
            MsgType::ALL.iter().map(|t| t.name()).collect(),
        )
    }
}

impl JsonSchema for SignalName {
    fn schema_name() -> Cow<'static, str> {
        "Signal".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        one_of(
            "A signal the grader may send to a program's process group.",
            SIGNALS.iter().map(|(n, _)| *n).collect(),
        )
    }
}

impl JsonSchema for ExitExpect {
    fn schema_name() -> Cow<'static, str> {
        "ExitExpect".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The exit code a program must end with, or `nonzero` for any code but 0.",
            "oneOf": [
                { "type": "integer" },
                { "type": "string", "const": "nonzero" }
            ]
        })
    }
}

impl JsonSchema for StopStep {
    fn schema_name() -> Cow<'static, str> {
        "StopStep".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let signal = generator.subschema_for::<SignalName>();
        let dur = generator.subschema_for::<Dur>();
        json_schema!({
            "description": "A node name (SIGINT, then up to 5s to exit), or a map naming the signal and the wait.",
            "oneOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "properties": {
                        "node": { "type": "string", "description": "The node." },
                        "signal": signal,
                        "within": dur
                    },
                    "required": ["node"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl JsonSchema for Item {
    fn schema_name() -> Cow<'static, str> {
        "TranscriptItem".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let item = generator.subschema_for::<Item>();
        json_schema!({
            "description": "A line pattern (`*`, `{name}`, `{#}`), a block repeated N times, or lines in any order.",
            "oneOf": [
                { "type": "string", "description": "A line pattern." },
                {
                    "type": "object",
                    "description": "A block of items expected `repeat` times in a row; inside it `{#}` is the repetition, from 0.",
                    "properties": {
                        "repeat": { "type": "integer", "minimum": 1 },
                        "lines": { "type": "array", "items": item, "minItems": 1 }
                    },
                    "required": ["repeat", "lines"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "description": "Line patterns expected in any order.",
                    "properties": {
                        "unordered": { "type": "array", "items": { "type": "string" }, "minItems": 1 }
                    },
                    "required": ["unordered"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_describes_the_top_level_and_the_steps() {
        let text = generate();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(v["additionalProperties"], false);
        let required = v["required"].as_array().unwrap();
        for field in ["lab", "title", "binaries", "tests"] {
            assert!(required.iter().any(|r| r == field), "{field}");
        }
        for name in [
            "Step",
            "ScriptStep",
            "Rule",
            "WireCheck",
            "TranscriptItem",
            "Duration",
        ] {
            assert!(
                v["definitions"][name].is_object(),
                "no definition of {name}"
            );
        }
    }
}
