//! The generated CRD: committed copy up to date, and the parts `kubectl`
//! shows (printer columns, names, conditions list-map).

#[test]
fn committed_crd_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../crds/alexaskilllinks.yaml");
    let committed = std::fs::read_to_string(path).expect("crds/alexaskilllinks.yaml exists");
    assert!(
        committed == alexa_link_operator::crd_yaml(),
        "crds/alexaskilllinks.yaml is stale: run `cargo run -p alexa-link-operator -- crd > crds/alexaskilllinks.yaml`"
    );
}

#[test]
fn names_columns_and_subresources() {
    let crd = alexa_link_operator::crd();
    assert_eq!(crd.spec.group, "skilllink.dev");
    assert_eq!(crd.spec.names.short_names, Some(vec!["asl".to_owned()]));
    assert_eq!(crd.spec.names.categories, Some(vec!["alexa".to_owned()]));
    let v = &crd.spec.versions[0];
    assert!(
        v.subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
    let cols: Vec<(String, i32)> = v
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| (c.name.clone(), c.priority.unwrap_or(0)))
        .collect();
    assert_eq!(
        cols,
        [
            ("Ready".to_owned(), 0),
            ("Host".to_owned(), 0),
            ("Replicas".to_owned(), 0),
            ("Reason".to_owned(), 1),
            ("Message".to_owned(), 1),
            ("Age".to_owned(), 0),
        ]
    );
}

#[test]
fn schema_has_conditions_list_map_cel_rules_and_docs() {
    let json = serde_json::to_value(alexa_link_operator::crd()).expect("json");
    assert!(
        !json.to_string().contains("nullable"),
        "nullable breaks kubectl explain before 1.27"
    );
    let schema = &json["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let conditions = &schema["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    assert_eq!(conditions["x-kubernetes-list-map-keys"][0], "type");
    let spec = &schema["properties"]["spec"];
    let lifetime =
        &spec["properties"]["clients"]["items"]["properties"]["accessTokenLifetimeSeconds"];
    assert_eq!(lifetime["minimum"], 360.0);
    for field in ["identity", "tls", "storage"] {
        let rules = spec["properties"][field]["x-kubernetes-validations"]
            .as_array()
            .unwrap_or_else(|| panic!("{field} has CEL rules"));
        assert!(
            rules[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("exactly one"))
        );
    }
    // Every spec field is documented (kubectl explain shows it).
    fn check(path: &str, s: &serde_json::Value) {
        if let Some(props) = s["properties"].as_object() {
            for (k, v) in props {
                let p = format!("{path}.{k}");
                assert!(
                    v["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{p} lacks a description"
                );
                check(&p, v);
                check(&p, &v["items"]);
            }
        }
    }
    check("spec", spec);
}
