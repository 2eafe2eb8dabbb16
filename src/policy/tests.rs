use super::*;
use crate::principal::CredentialKind;

fn principal() -> Principal {
    Principal {
        subject: "user-42".to_owned(),
        policy: "p".to_owned(),
        credential_id: "mobile".to_owned(),
        kind: CredentialKind::ApiKey,
    }
}

fn policy(edit: impl FnOnce(&mut PolicySettings)) -> Policy {
    let mut settings = PolicySettings::default();
    edit(&mut settings);
    Policy::from_settings("p", &settings).expect("valid policy")
}

fn not_allowed_field(result: Result<Grant, PolicyError>) -> &'static str {
    match result {
        Err(PolicyError::NotAllowed { field, .. }) => field,
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}

fn invalid_field(result: Result<Grant, PolicyError>) -> &'static str {
    match result {
        Err(PolicyError::Invalid(e)) => e.field,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn empty_request_gets_the_policy_defaults() {
    let p = policy(|s| {
        s.validity_seconds = 600;
        s.procedure = Some("review".into());
        s.class_id = Some(7);
        s.storage_region = Some("ap-chongqing".into());
        s.vod_sub_app_id = Some(1_500_000_001);
    });
    let grant = p
        .grant(&principal(), &SignatureRequest::default())
        .expect("granted");
    assert_eq!(grant.validity.seconds(), 600);
    assert_eq!(
        grant.options.procedure.as_ref().map(Procedure::as_str),
        Some("review")
    );
    assert_eq!(grant.options.class_id, Some(ClassId(7)));
    assert_eq!(
        grant
            .options
            .storage_region
            .as_ref()
            .map(StorageRegion::as_str),
        Some("ap-chongqing")
    );
    assert_eq!(
        grant.options.vod_sub_app_id,
        Some(VodSubAppId(1_500_000_001))
    );
    assert_eq!(grant.options.one_time_valid, Some(true));
    assert_eq!(
        grant
            .options
            .source_context
            .as_ref()
            .map(SourceContext::as_str),
        Some("user-42")
    );
    assert_eq!(grant.options.session_context, None);
}

#[test]
fn validity_is_capped_by_the_policy_and_by_the_spec() {
    let p = policy(|s| {
        s.validity_seconds = 600;
        s.max_validity_seconds = Some(3600);
    });
    let ask = |v| SignatureRequest {
        validity_seconds: Some(v),
        ..Default::default()
    };
    assert_eq!(
        p.grant(&principal(), &ask(3600))
            .expect("ok")
            .validity
            .seconds(),
        3600
    );
    assert_eq!(
        not_allowed_field(p.grant(&principal(), &ask(3601))),
        "validitySeconds"
    );
    assert_eq!(
        invalid_field(p.grant(&principal(), &ask(0))),
        "validitySeconds"
    );
    assert_eq!(
        invalid_field(p.grant(&principal(), &ask(7_776_001))),
        "validitySeconds"
    );
}

#[test]
fn client_chooses_only_from_the_allowed_lists() {
    let p = policy(|s| {
        s.procedure = Some("a".into());
        s.allowed_procedures = vec!["b".into()];
        s.allowed_class_ids = vec![1, 2];
        s.allowed_storage_regions = vec!["ap-guangzhou".into()];
    });
    let req = |edit: fn(&mut SignatureRequest)| {
        let mut r = SignatureRequest::default();
        edit(&mut r);
        r
    };
    let grant = p
        .grant(
            &principal(),
            &req(|r| {
                r.procedure = Some("b".into());
                r.class_id = Some(2);
                r.storage_region = Some("ap-guangzhou".into());
            }),
        )
        .expect("allowed values");
    assert_eq!(
        grant.options.procedure.as_ref().map(Procedure::as_str),
        Some("b")
    );
    assert_eq!(grant.options.class_id, Some(ClassId(2)));
    assert_eq!(
        not_allowed_field(p.grant(&principal(), &req(|r| r.procedure = Some("c".into())))),
        "procedure"
    );
    assert_eq!(
        not_allowed_field(p.grant(&principal(), &req(|r| r.class_id = Some(3)))),
        "classId"
    );
    assert_eq!(
        not_allowed_field(p.grant(
            &principal(),
            &req(|r| r.storage_region = Some("ap-beijing".into()))
        )),
        "storageRegion"
    );
    assert_eq!(
        not_allowed_field(p.grant(&principal(), &req(|r| r.vod_sub_app_id = Some(9)))),
        "vodSubAppId"
    );
    assert_eq!(
        invalid_field(p.grant(
            &principal(),
            &req(|r| r.storage_region = Some("Mars".into()))
        )),
        "storageRegion"
    );
}

#[test]
fn task_options_need_a_procedure_and_the_policys_consent() {
    let without = policy(|_| {});
    let ask_priority = SignatureRequest {
        task_priority: Some(5),
        ..Default::default()
    };
    assert_eq!(
        invalid_field(without.grant(&principal(), &ask_priority)),
        "taskPriority"
    );
    let with = policy(|s| {
        s.procedure = Some("review".into());
        s.allowed_task_priorities = vec![5];
        s.allowed_task_notify_modes = vec!["Finish".into()];
    });
    assert_eq!(
        with.grant(&principal(), &ask_priority)
            .expect("ok")
            .options
            .task_priority
            .map(TaskPriority::get),
        Some(5)
    );
    let ask_other = SignatureRequest {
        task_priority: Some(6),
        ..Default::default()
    };
    assert_eq!(
        not_allowed_field(with.grant(&principal(), &ask_other)),
        "taskPriority"
    );
    let out_of_range = SignatureRequest {
        task_priority: Some(11),
        ..Default::default()
    };
    assert_eq!(
        invalid_field(with.grant(&principal(), &out_of_range)),
        "taskPriority"
    );
    let mode = SignatureRequest {
        task_notify_mode: Some("Change".into()),
        ..Default::default()
    };
    assert_eq!(
        not_allowed_field(with.grant(&principal(), &mode)),
        "taskNotifyMode"
    );
    let bad_mode = SignatureRequest {
        task_notify_mode: Some("Sometimes".into()),
        ..Default::default()
    };
    assert_eq!(
        invalid_field(with.grant(&principal(), &bad_mode)),
        "taskNotifyMode"
    );
}

#[test]
fn source_context_is_written_by_the_server() {
    let fixed =
        policy(|s| s.source_context = r#"{{"uid":"{subject}","via":"{credential_id}"}}"#.into());
    let grant = fixed
        .grant(&principal(), &SignatureRequest::default())
        .expect("ok");
    assert_eq!(
        grant
            .options
            .source_context
            .as_ref()
            .map(SourceContext::as_str),
        Some(r#"{"uid":"user-42","via":"mobile"}"#)
    );
    let spoof = SignatureRequest {
        source_context: Some("user-1".into()),
        ..Default::default()
    };
    assert_eq!(
        not_allowed_field(fixed.grant(&principal(), &spoof)),
        "sourceContext"
    );
}

#[test]
fn client_context_is_added_only_where_the_template_allows_and_within_250() {
    let open = policy(|s| s.source_context = "{subject}|{client}".into());
    let ask = |text: &str| SignatureRequest {
        source_context: Some(text.into()),
        ..Default::default()
    };
    let grant = open.grant(&principal(), &ask("clip-1")).expect("ok");
    assert_eq!(
        grant
            .options
            .source_context
            .as_ref()
            .map(SourceContext::as_str),
        Some("user-42|clip-1")
    );
    // "user-42|" is 8 characters: 242 more fit, 243 do not.
    assert!(open.grant(&principal(), &ask(&"x".repeat(242))).is_ok());
    assert_eq!(
        invalid_field(open.grant(&principal(), &ask(&"x".repeat(243)))),
        "sourceContext"
    );
    assert_eq!(
        invalid_field(open.grant(&principal(), &ask("a\nb"))),
        "sourceContext"
    );
}

#[test]
fn session_context_needs_the_policys_consent() {
    let ask = SignatureRequest {
        session_context: Some("s".into()),
        ..Default::default()
    };
    assert_eq!(
        not_allowed_field(policy(|_| {}).grant(&principal(), &ask)),
        "sessionContext"
    );
    let open = policy(|s| s.allow_client_session_context = true);
    let grant = open.grant(&principal(), &ask).expect("ok");
    assert_eq!(
        grant
            .options
            .session_context
            .as_ref()
            .map(SessionContext::as_str),
        Some("s")
    );
    let long = SignatureRequest {
        session_context: Some("s".repeat(1001)),
        ..Default::default()
    };
    assert_eq!(
        invalid_field(open.grant(&principal(), &long)),
        "sessionContext"
    );
}

#[test]
fn one_time_valid_can_be_turned_off_and_uploads_suspended() {
    let reusable = policy(|s| s.one_time_valid = false);
    assert_eq!(
        reusable
            .grant(&principal(), &SignatureRequest::default())
            .expect("ok")
            .options
            .one_time_valid,
        None
    );
    let suspended = policy(|s| s.allow_upload = false);
    assert!(matches!(
        suspended.grant(&principal(), &SignatureRequest::default()),
        Err(PolicyError::Forbidden(_))
    ));
}

#[test]
fn bad_settings_name_the_key() {
    let check = |edit: fn(&mut PolicySettings), key: &str| {
        let mut s = PolicySettings::default();
        edit(&mut s);
        let err = Policy::from_settings("p", &s).expect_err("invalid");
        assert!(err.to_string().contains(key), "{err} should name {key}");
    };
    check(|s| s.validity_seconds = 0, "policies.p.validity_seconds");
    check(
        |s| s.max_validity_seconds = Some(10),
        "policies.p.max_validity_seconds",
    );
    check(
        |s| s.storage_region = Some("nowhere".into()),
        "policies.p.storage_region",
    );
    check(|s| s.task_priority = Some(20), "policies.p.task_priority");
    check(
        |s| s.source_context = "{user}".into(),
        "policies.p.source_context",
    );
    check(
        |s| s.source_context = "{subject".into(),
        "policies.p.source_context",
    );
    check(
        |s| s.task_notify_mode = Some("Always".into()),
        "policies.p.task_notify_mode",
    );
}

fn values<'a>(subject: &'a str, client: Option<&'a str>) -> Values<'a> {
    Values {
        subject,
        credential_id: "mobile",
        policy: "p",
        client,
    }
}

#[test]
fn template_escapes_braces() {
    let t = Template::parse("x{{y}}-{policy}").expect("valid");
    assert_eq!(t.render(values("s", None)), "x{y}-p");
    assert!(Template::parse("a}b").is_err());
}

fn with_client(text: &str) -> SignatureRequest {
    SignatureRequest {
        source_context: Some(text.into()),
        ..Default::default()
    }
}

fn signed_context(p: &Policy, who: &Principal, request: &SignatureRequest) -> String {
    p.grant(who, request)
        .expect("granted")
        .options
        .source_context
        .expect("a sourceContext")
        .as_str()
        .to_owned()
}

fn keys_of(json: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(json).expect("the context is JSON");
    value
        .as_object()
        .expect("a JSON object")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn a_client_cannot_forge_the_uid_of_a_json_context() {
    let p = policy(|s| s.source_context = r#"{{"uid":"{subject}","c":"{client}"}}"#.into());
    let context = signed_context(&p, &principal(), &with_client(r#"","uid":"victim-user"#));
    let parsed: serde_json::Value = serde_json::from_str(&context).expect("JSON");
    assert_eq!(parsed["uid"], "user-42", "{context}");
    assert_eq!(parsed["c"], r#"","uid":"victim-user"#, "{context}");
    assert_eq!(keys_of(&context), ["c", "uid"]);
}

#[test]
fn a_subject_with_quotes_is_escaped_in_a_json_context() {
    let p =
        policy(|s| s.source_context = r#"{{"uid":"{subject}","via":"{credential_id}"}}"#.into());
    let mut who = principal();
    who.subject = "alice\",\"uid\":\"root\\".to_owned();
    let context = signed_context(&p, &who, &SignatureRequest::default());
    let parsed: serde_json::Value = serde_json::from_str(&context).expect("JSON");
    assert_eq!(parsed["uid"], who.subject.as_str(), "{context}");
    assert_eq!(parsed["via"], "mobile", "{context}");
    assert_eq!(keys_of(&context), ["uid", "via"]);
}

#[test]
fn escaping_that_makes_the_context_too_long_is_refused() {
    let p = policy(|s| s.source_context = r#"{{"c":"{client}"}}"#.into());
    // 8 characters of template: 242 plain characters fit, 242 quotes escape to 484.
    assert!(
        p.grant(&principal(), &with_client(&"x".repeat(242)))
            .is_ok()
    );
    assert_eq!(
        invalid_field(p.grant(&principal(), &with_client(&"\"".repeat(242)))),
        "sourceContext"
    );
}

#[test]
fn a_client_cannot_inject_the_separators_of_a_plain_context() {
    let p = policy(|s| s.source_context = "uid={subject}|c={client}".into());
    let context = signed_context(&p, &principal(), &with_client("x|uid=victim-user"));
    assert_eq!(context, "uid=user-42|c=x%7Cuid%3Dvictim-user");
    assert_eq!(context.matches('|').count(), 1);
    assert_eq!(context.matches("uid=").count(), 1);

    let colon = policy(|s| s.source_context = "{subject}:{client}".into());
    let context = signed_context(&colon, &principal(), &with_client("a:b 50% \"q\""));
    assert_eq!(context, "user-42:a%3Ab 50%25 %22q%22");
    // A character the template does not use as a separator stays as it is.
    assert_eq!(
        signed_context(&colon, &principal(), &with_client("clip/1-視")),
        "user-42:clip/1-視"
    );
}

#[test]
fn a_subject_cannot_inject_the_separators_of_a_plain_context() {
    let p = policy(|s| s.source_context = "{credential_id}/{subject}".into());
    let mut who = principal();
    who.subject = "a/b;c\nd".to_owned();
    assert_eq!(
        signed_context(&p, &who, &SignatureRequest::default()),
        "mobile/a%2Fb%3Bc%0Ad"
    );
}

#[test]
fn templates_are_classified_once() {
    let json = |t: &str| Template::parse(t).expect("valid").is_json();
    assert!(json(r#"{{"uid":"{subject}"}}"#));
    assert!(json(r#"[ "{subject}", "{client}" ]"#));
    assert!(json(r#""{subject}""#));
    assert!(!json("{subject}"));
    assert!(!json("tenant-{credential_id}/{subject}"));
    assert!(!json("{subject}:{client}"));
}

#[test]
fn bad_json_templates_are_refused_at_start_up_naming_the_key() {
    for (template, says) in [
        (r#"{{"uid":{subject}}}"#, "inside a JSON string"),
        (r#"{{"{subject}":"x"}}"#, "JSON key"),
        (r#"{{"uid":"{subject}",}}"#, "not valid JSON"),
        (r#"{{"uid":"\{subject}"}}"#, "not valid JSON"),
        (r#"[{subject}]"#, "inside a JSON string"),
    ] {
        let s = PolicySettings {
            source_context: template.into(),
            ..Default::default()
        };
        let err = Policy::from_settings("p", &s).expect_err(template);
        let text = err.to_string();
        assert!(
            text.contains("policies.p.source_context: "),
            "{template}: {text}"
        );
        assert!(text.contains(says), "{template}: {text}");
    }
}

proptest::proptest! {
    #[test]
    fn no_client_text_changes_a_json_context_s_keys_or_uid(client in "[^\\p{Cc}]{1,80}") {
        let p = policy(|s| s.source_context = r#"{{"uid":"{subject}","c":"{client}"}}"#.into());
        if let Ok(grant) = p.grant(&principal(), &with_client(&client)) {
            let context = grant.options.source_context.expect("a sourceContext");
            let parsed: serde_json::Value =
                serde_json::from_str(context.as_str()).expect("the context is JSON");
            proptest::prop_assert_eq!(&parsed["uid"], "user-42");
            proptest::prop_assert_eq!(&parsed["c"], client.as_str());
            proptest::prop_assert_eq!(keys_of(context.as_str()), ["c", "uid"]);
        }
    }

    #[test]
    fn no_client_text_adds_a_separator_to_a_plain_context(client in "[^\\p{Cc}]{1,80}") {
        let p = policy(|s| s.source_context = "uid={subject}|c={client}".into());
        if let Ok(grant) = p.grant(&principal(), &with_client(&client)) {
            let context = grant.options.source_context.expect("a sourceContext");
            proptest::prop_assert_eq!(context.as_str().matches('|').count(), 1);
            proptest::prop_assert_eq!(context.as_str().matches('=').count(), 2);
            proptest::prop_assert!(context.as_str().starts_with("uid=user-42|c="));
        }
    }
}
