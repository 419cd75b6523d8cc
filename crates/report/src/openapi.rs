//! The OpenAPI 3.1 description of `GET /api/v1/tallies`, for the hub to
//! merge into the document it serves at `/api/v1/openapi.json`.

use serde_json::{json, Value};

use crate::query::Dimension;

fn list_param(name: &str, description: &str, items: Value) -> Value {
    json!({
        "name": name,
        "in": "query",
        "required": false,
        "description": format!("{description} Comma-separated; absent or empty means all."),
        "style": "form",
        "explode": false,
        "schema": {"type": "array", "items": items}
    })
}

/// The `paths` entry and the `components.schemas` it refers to, as a whole
/// OpenAPI 3.1 document (`info` and `security` to be completed by the hub).
pub fn openapi() -> Value {
    let dims: Vec<&str> = Dimension::ALL.iter().map(|d| d.code()).collect();
    let code = json!({"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"});
    let count = json!({
        "oneOf": [
            {"type": "integer", "minimum": 0},
            {"type": "string", "enum": ["<10", "x"],
             "description": "Suppressed (public tables only): `<10` is a count from 1 to 9, `x` a larger count withheld so that no `<10` can be worked out from totals."}
        ]
    });
    let error = json!({"$ref": "#/components/schemas/Error"});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "DPS Kiosk coordination hub", "version": "1"},
        "paths": {
            "/api/v1/tallies": {
                "get": {
                    "operationId": "getTallies",
                    "summary": "Visits summed over all devices, filtered and grouped",
                    "description": "Coordination login required. Exact counts unless `public=true`, which applies small-cell suppression (see the `Count` schema).",
                    "parameters": [
                        {"name": "from", "in": "query", "required": false, "description": "First day included (Europe/Brussels).", "schema": {"type": "string", "format": "date"}},
                        {"name": "to", "in": "query", "required": false, "description": "Last day included.", "schema": {"type": "string", "format": "date"}},
                        list_param("site", "Sites.", code.clone()),
                        list_param("municipality", "Municipality of residence: one of the 19 slugs, `other_be`, `abroad`, `unknown`.", json!({"type": "string"})),
                        list_param("procedure", "Procedures.", code.clone()),
                        list_param("outcome", "Outcomes.", code),
                        list_param("age_band", "Age bands.", json!({"type": "string", "enum": ["under_18", "18_29", "30_44", "45_64", "65_74", "75_plus", "unknown"]})),
                        list_param("language", "Languages.", json!({"type": "string", "enum": ["fr", "nl", "en", "de"]})),
                        list_param("channel", "Identification channels.", json!({"type": "string", "enum": ["eid", "manual", "none"]})),
                        list_param("group_by", "Table columns, in order, each at most once (at most 3 when public).", json!({"type": "string", "enum": dims})),
                        {"name": "format", "in": "query", "required": false, "schema": {"type": "string", "enum": ["json", "csv", "xlsx"], "default": "json"}},
                        {"name": "public", "in": "query", "required": false, "description": "Apply small-cell suppression.", "schema": {"type": "boolean", "default": false}}
                    ],
                    "responses": {
                        "200": {
                            "description": "The table.",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Table"}},
                                "text/csv": {"schema": {"type": "string"}, "example": "municipality,visits,row,disclosure\r\nevere,12,cell,exact\r\n*,12,total,exact\r\n"},
                                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "contentMediaType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}}
                            }
                        },
                        "400": {"description": "A parameter is malformed or unknown.", "content": {"application/json": {"schema": error.clone()}}},
                        "401": {"description": "Not logged in.", "content": {"application/json": {"schema": error}}}
                    }
                }
            }
        },
        "components": {
            "schemas": {
                "Count": count,
                "Table": {
                    "type": "object",
                    "required": ["disclosure", "columns", "rows", "totals", "total"],
                    "properties": {
                        "disclosure": {"type": "string", "enum": ["exact", "public"]},
                        "columns": {"type": "array", "items": {"type": "string"}, "description": "The grouping dimensions in order, then `visits`."},
                        "rows": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
                        "totals": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}, "description": "Margins; a summed-out column is null. Grand total last."},
                        "total": {"$ref": "#/components/schemas/Count"}
                    }
                },
                "Row": {
                    "type": "object",
                    "description": "One property per grouping column (string, or null in a total row), and `visits`.",
                    "required": ["visits"],
                    "properties": {"visits": {"$ref": "#/components/schemas/Count"}},
                    "additionalProperties": {"type": ["string", "null"]}
                },
                "Error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}
                }
            }
        }
    })
}
