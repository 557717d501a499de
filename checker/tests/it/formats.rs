//! Parsing our JSON and Jepsen EDN: shapes, odd spacing, and errors that name the line.

use checker::{
    Format, History, KvInput, KvOutput, ModelKind, Operation, Outcome, ParseError, RegisterInput,
    RegisterOutput, parse,
};

fn error(text: &str, format: Format, model: Option<ModelKind>) -> String {
    parse(text, format, model)
        .expect_err("malformed input")
        .to_string()
}

#[test]
fn edn_register_with_tabs_commas_and_odd_spacing() {
    let text = "\t[ {:process 0,\t:type :invoke , :f :write :value 1}\n,,\n{ :process 0 :type :ok :f :write :value 1 }\r\n\
                {:type :invoke :process 1 :f :cas :value [1\t2]}{:type :ok :process 1 :f :cas :value [1 2]}\n\
                {:process 2 :type :invoke :f :read :value nil} ; never completes\n]";
    let history = parse(text, Format::Edn, None).expect("valid");
    assert_eq!(
        history,
        History::Register(vec![
            Operation::returned(0, RegisterInput::Write(1), RegisterOutput::Written, 0, 1),
            Operation::returned(
                1,
                RegisterInput::Cas {
                    expected: 1,
                    new: 2
                },
                RegisterOutput::Cas(true),
                2,
                3
            ),
            Operation::indefinite(2, RegisterInput::Read, 4),
        ])
    );
}

#[test]
fn edn_kv_with_key_field_and_tuples() {
    let text = "{:process 0 :type :invoke :f :put :key \"x\" :value \"1\"}\n\
                {:process 0 :type :ok :f :put :key \"x\" :value \"1\"}\n\
                {:process 1 :type :invoke :f :get :key \"x\" :value nil}\n\
                {:process 1 :type :ok :f :get :key \"x\" :value \"1\"}\n\
                {:process 2 :type :invoke :f :append :value [:y 5]}\n\
                {:process 2 :type :fail :f :append :value [:y 5]}\n\
                {:process 3 :type :invoke :f :read :value #jepsen.independent.Tuple{:key 7 :value nil}}\n\
                {:process 3 :type :ok :f :read :value #jepsen.independent.Tuple{:key 7 :value nil}}\n";
    let History::Kv(operations) = parse(text, Format::Edn, None).expect("valid") else {
        panic!("inferred kv")
    };
    assert_eq!(
        operations[0].input,
        KvInput::Put {
            key: "x".into(),
            value: "1".into()
        }
    );
    assert_eq!(
        operations[1].outcome,
        Outcome::Returned(KvOutput::Value("1".into()))
    );
    assert_eq!(
        operations[2].input,
        KvInput::Append {
            key: "y".into(),
            value: "5".into()
        }
    );
    assert_eq!(operations[2].outcome, Outcome::Failed);
    assert_eq!(operations[3].input, KvInput::Get { key: "7".into() });
    assert_eq!(
        operations[3].outcome,
        Outcome::Returned(KvOutput::Value(String::new()))
    );
}

#[test]
fn edn_errors_name_the_line() {
    let cases: [(&str, &str); 7] = [
        (
            "{:process 0 :type :invoke :f :read}\n{:process 0 :type :ok :f :read :value 1\n",
            "line 3: unexpected end of input: missing '}'",
        ),
        (
            "{:process 0 :type :invoke :f :read}\n\n{:process 0 :type :done :f :read}",
            "line 3: :type :done is not :invoke, :ok, :fail or :info",
        ),
        (
            "{:process 0 :type :invoke :f :read}\n{:process 0 :type :invoke :f :read}",
            "line 2: process 0 invokes again before its invocation on line 1 completed",
        ),
        (
            "{:process 0 :type :ok :f :read :value 1}",
            "line 1: process 0 completes an operation it never invoked",
        ),
        (
            "{:process 0 :type :invoke :f :write :value \"a\"}",
            "line 1: the :value of a :write must be an integer or nil, not \"a\"",
        ),
        (
            "\n{:process 0 :type :invoke :f :cas :value [1]}",
            "line 2: the :value of a :cas must be a two-element vector, not [1]",
        ),
        (
            "{:process 0 :type :invoke :f :read}\n  {:process 0 :type :ok :f :write :value 1}",
            "line 2: completion :f :write does not match the invocation :f :read on line 1",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            error(text, Format::Edn, Some(ModelKind::Register)),
            expected,
            "{text}"
        );
    }
    assert_eq!(
        error(
            "{:process 0 :type :invoke :f :txn :value [[:r 1 nil]]}",
            Format::Edn,
            Some(ModelKind::Kv)
        ),
        "line 1: the :value of a :txn (without :key, a [key value] tuple) must be a two-element vector, not [[:r 1 nil]]"
    );
}

#[test]
fn json_shapes_of_both_models() {
    let text = r#"{"model": "register", "operations": [
        {"client": 1, "input": {"op": "write", "value": 3}, "output": {"ok": true}, "call": 0, "return": 2},
        {"client": 2, "input": {"op": "read"}, "output": {"value": null}, "call": 1, "return": 3},
        {"client": 3, "input": {"op": "cas", "expected": 3, "new": 4}, "output": {"ok": false}, "call": 4, "return": 5},
        {"client": 4, "input": {"op": "write", "value": 5}, "output": {"failed": true, "error": "refused"}, "call": 6, "return": 7},
        {"client": 5, "input": {"op": "read"}, "output": null, "call": 8, "return": null}
    ]}"#;
    let History::Register(operations) = parse(text, Format::Json, None).expect("valid") else {
        panic!("register")
    };
    assert_eq!(
        operations[1].outcome,
        Outcome::Returned(RegisterOutput::Value(None))
    );
    assert_eq!(
        operations[2].outcome,
        Outcome::Returned(RegisterOutput::Cas(false))
    );
    assert_eq!(operations[3].outcome, Outcome::Failed);
    assert_eq!(operations[4].outcome, Outcome::Indefinite);
}

#[test]
fn json_errors_name_the_line() {
    let header = "{\"model\": \"kv\", \"operations\": [\n";
    let good = "{\"client\": 1, \"input\": {\"op\": \"get\", \"key\": \"k\"}, \"output\": {\"value\": \"\"}, \"call\": 0, \"return\": 1}";
    let cases: [(&str, &str); 6] = [
        (
            "{\"client\": 1, \"input\": {\"op\": \"gett\", \"key\": \"k\"}, \"output\": null, \"call\": 0}",
            "line 3: operation 1: input: unknown op \"gett\" for model kv (expected get, put, append, cas)",
        ),
        (
            "{\"client\": 1, \"input\": {\"op\": \"get\", \"key\": \"k\"}, \"output\": {\"value\": \"\"}, \"call\": 5, \"return\": 4}",
            "line 3: operation 1: \"return\" 4 is before \"call\" 5",
        ),
        (
            "{\"client\": 1, \"input\": {\"op\": \"get\", \"key\": \"k\"}, \"output\": {\"value\": \"\"}, \"call\": 5}",
            "line 3: operation 1: an operation with an output needs a \"return\" time",
        ),
        (
            "{\"client\": 1, \"input\": {\"op\": \"put\", \"key\": \"k\", \"value\": \"v\"}, \"output\": {\"value\": \"\"}, \"call\": 5, \"return\": 6}",
            "line 3: operation 1: output: unexpected field \"value\" (expected ok)",
        ),
        (
            "{\"client\": 1, \"input\": {\"op\": \"put\", \"key\": \"k\", \"value\": 3}, \"output\": null, \"call\": 5}",
            "line 3: operation 1: input: \"value\" must be a string, not 3",
        ),
        (
            "{\"client\": -1, \"input\": {}, \"call\": 0}",
            "line 3: column 13: invalid value: integer `-1`, expected u64",
        ),
    ];
    for (operation, expected) in cases {
        let text = format!("{header}{good},\n{operation}\n]}}");
        assert_eq!(error(&text, Format::Json, None), expected, "{operation}");
    }
    assert_eq!(
        error(
            "{\"model\": \"kv\",\n\"operations\": [}",
            Format::Json,
            None
        ),
        "line 2: column 16: expected value"
    );
    assert_eq!(
        error(
            "{\"model\": \"queue\", \"operations\": []}",
            Format::Json,
            None
        ),
        "unknown model \"queue\": expected \"kv\" or \"register\""
    );
    assert_eq!(
        error(
            "{\"model\": \"kv\", \"operations\": []}",
            Format::Json,
            Some(ModelKind::Register)
        ),
        "the history says model \"kv\" but \"register\" was asked for"
    );
    assert!(matches!(
        parse("{\"operations\": []}", Format::Json, None),
        Err(ParseError::Whole { .. })
    ));
}

#[test]
fn html_escapes_every_string() {
    let key = "<script>alert('x')</script>";
    let history = History::Kv(vec![Operation::returned(
        1,
        KvInput::Get { key: key.into() },
        KvOutput::Value("\"&<b>".into()),
        0,
        1,
    )]);
    let result = checker::check(&history, &checker::Options::default());
    let html = checker::html::render(&history, &result, "<title>&");
    assert!(!html.contains("<script>alert"), "unescaped key");
    assert!(!html.contains("<b>"), "unescaped value");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)"),
        "escaped key present"
    );
    assert!(!html.contains("<title><title>"), "unescaped title");
    assert!(
        !html.contains("http://")
            || html.matches("http://").all(|_| true) && !html.contains("src=\"http"),
        "no network resources"
    );
    assert_eq!(
        html.matches("<script>").count(),
        1,
        "only our own inline script"
    );
}

#[test]
fn json_model_may_come_after_the_operations() {
    let text = r#"{"operations": [
        {"client": 1, "input": {"op": "get", "key": "k"}, "output": {"value": ""}, "call": 0, "return": 1}
    ], "model": "kv"}"#;
    let History::Kv(operations) = parse(text, Format::Json, None).expect("valid") else {
        panic!("kv")
    };
    assert_eq!(operations[0].input, KvInput::Get { key: "k".into() });
    // Escaped strings are read too, and a shape error after the model still names its line.
    let text = "{\"operations\": [\n{\"client\": 1, \"input\": {\"op\": \"get\", \"key\": \"\\u00e9\\n\"}, \"output\": {\"ok\": true}, \"call\": 0, \"return\": 1}\n], \"model\": \"kv\"}";
    assert_eq!(
        error(text, Format::Json, None),
        "line 2: operation 0: output: unexpected field \"ok\" (expected value)"
    );
}

#[test]
fn huge_keys_and_values_are_reported_not_a_panic() {
    // A key of 70,000 characters once made the report's partition column panic (a format width
    // over 65,535). JSON and EDN both carry it through parse, check, report and HTML.
    let key = "k".repeat(70_000);
    let value = "v".repeat(70_000);
    let json = format!(
        "{{\"model\": \"kv\", \"operations\": [\n\
         {{\"client\": 1, \"input\": {{\"op\": \"put\", \"key\": \"{key}\", \"value\": \"{value}\"}}, \"output\": {{\"ok\": true}}, \"call\": 0, \"return\": 1}},\n\
         {{\"client\": 2, \"input\": {{\"op\": \"get\", \"key\": \"{key}\"}}, \"output\": {{\"value\": \"x\"}}, \"call\": 2, \"return\": 3}}]}}"
    );
    let edn = format!(
        "{{:process 1 :type :invoke :f :put :key \"{key}\" :value \"{value}\"}}\n\
         {{:process 1 :type :ok :f :put :key \"{key}\" :value \"{value}\"}}\n\
         {{:process 2 :type :invoke :f :get :key \"{key}\" :value nil}}\n\
         {{:process 2 :type :ok :f :get :key \"{key}\" :value \"x\"}}"
    );
    let options = checker::Options {
        minimize: true,
        ..checker::Options::default()
    };
    for (text, format) in [(json, Format::Json), (edn, Format::Edn)] {
        let history = parse(&text, format, None).expect("valid");
        let result = checker::check(&history, &options);
        assert_eq!(result.verdict, checker::Verdict::Illegal, "{format:?}");
        let report = checker::report::render(&history, &result);
        assert!(report.contains(&format!("key \"{key}\"")), "{format:?}");
        assert!(report.contains("cannot place: #1"), "{format:?}");
        let html = checker::html::render(&history, &result, "huge");
        assert!(html.contains(&value), "{format:?}");
    }
}
