//! Real sample lines per pattern file, with the fields each naming set must yield.

use serde_json::{Value, json};
use sluice::cleaner::Step;
use sluice::cleaner::grok::{EcsCompatibility, GrokConfig, GrokStep};
use sluice::event::Event;

const V1: EcsCompatibility = EcsCompatibility::V1;
const LEGACY: EcsCompatibility = EcsCompatibility::Disabled;

/// Runs `pattern` over `line` (overwriting `message`) and checks every `expected` path.
fn check(ecs: EcsCompatibility, pattern: &str, line: &str, expected: Value) {
    let step = GrokStep::new(GrokConfig {
        patterns: vec![pattern.to_string()],
        ecs_compatibility: ecs,
        overwrite: vec!["message".to_string()],
        ..GrokConfig::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let mut e = Event::from_message(line);
    step.apply(&mut e);
    assert!(
        !e.has_tag("_grokparsefailure"),
        "{ecs:?} {pattern} did not match {line:?}"
    );
    let Value::Object(expected) = expected else {
        panic!("expected an object")
    };
    for (path, want) in expected {
        assert_eq!(
            e.get(&path),
            Some(&want),
            "{ecs:?} {pattern}: field {path} in {}",
            Value::Object(e.fields.clone())
        );
    }
}

fn no_match(ecs: EcsCompatibility, pattern: &str, line: &str) {
    let step = GrokStep::new(GrokConfig {
        patterns: vec![pattern.to_string()],
        ecs_compatibility: ecs,
        ..GrokConfig::default()
    })
    .unwrap();
    let mut e = Event::from_message(line);
    step.apply(&mut e);
    assert!(e.has_tag("_grokparsefailure"), "{pattern} matched {line:?}");
}

const APACHE: &str = r#"83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36""#;

#[test]
fn httpd_combined() {
    check(
        V1,
        "%{COMBINEDAPACHELOG}",
        APACHE,
        json!({
            "source.address": "83.149.9.216",
            "timestamp": "17/May/2015:10:05:03 +0000",
            "http.request.method": "GET",
            "url.original": "/presentations/logstash-monitorama-2013/images/kibana-search.png",
            "http.version": "1.1",
            "http.response.status_code": 200,
            "http.response.body.bytes": 203023,
            "http.request.referrer": "http://semicomplete.com/presentations/logstash-monitorama-2013/",
            "user_agent.original": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36",
        }),
    );
    check(
        LEGACY,
        "%{COMBINEDAPACHELOG}",
        APACHE,
        json!({
            "clientip": "83.149.9.216", "ident": "-", "auth": "-",
            "timestamp": "17/May/2015:10:05:03 +0000", "verb": "GET",
            "request": "/presentations/logstash-monitorama-2013/images/kibana-search.png",
            "httpversion": "1.1", "response": "200", "bytes": "203023",
            "referrer": "\"http://semicomplete.com/presentations/logstash-monitorama-2013/\"",
        }),
    );
    // A user with an e-mail address, no bytes, and a raw request.
    let line =
        r#"2001:db8::1 - bob@example.com [01/Jan/2024:00:00:00 +0100] "\x16\x03" 400 - "-" "-""#;
    check(
        V1,
        "%{COMBINEDAPACHELOG}",
        line,
        json!({
            "source.address": "2001:db8::1", "user.name": "bob@example.com",
            "http.response.status_code": 400,
        }),
    );
    check(
        LEGACY,
        "%{COMBINEDAPACHELOG}",
        line,
        json!({"rawrequest": "\\x16\\x03", "bytes": null})
            .as_object()
            .map(|m| {
                let mut m = m.clone();
                m.remove("bytes");
                Value::Object(m)
            })
            .unwrap(),
    );
}

#[test]
fn httpd_error_logs() {
    let l24 = "[Wed Oct 11 14:32:52.123456 2000] [proxy:error] [pid 1234:tid 5678] (111)Connection refused: AH00957: HTTP: attempt to connect to 127.0.0.1:8080 (localhost) failed";
    check(
        V1,
        "%{HTTPD_ERRORLOG}",
        l24,
        json!({
            "timestamp": "Wed Oct 11 14:32:52.123456 2000", "apache.error.module": "proxy",
            "log.level": "error", "process.pid": 1234, "process.thread.id": 5678,
            "apache.error.proxy.error.code": "111",
            "apache.error.proxy.error.message": "Connection refused",
            "error.code": "AH00957",
            "message": "HTTP: attempt to connect to 127.0.0.1:8080 (localhost) failed",
        }),
    );
    check(
        LEGACY,
        "%{HTTPD_ERRORLOG}",
        l24,
        json!({
            "module": "proxy", "loglevel": "error", "pid": "1234", "tid": "5678",
            "proxy_errorcode": "111", "errorcode": "AH00957",
        }),
    );
    let l20 = "[Fri Dec 16 01:46:23 2005] [error] [client 1.2.3.4] Directory index forbidden by rule: /home/test/";
    check(
        V1,
        "%{HTTPD_ERRORLOG}",
        l20,
        json!({
            "log.level": "error", "source.address": "1.2.3.4",
            "message": "Directory index forbidden by rule: /home/test/",
        }),
    );
    check(
        LEGACY,
        "%{HTTPD20_ERRORLOG}",
        l20,
        json!({"loglevel": "error", "clientip": "1.2.3.4"}),
    );
}

#[test]
fn nginx_error_with_library_pieces() {
    let p = r"(?<timestamp>%{YEAR}/%{MONTHNUM}/%{MONTHDAY} %{TIME}) \[%{LOGLEVEL:[log][level]}\] %{POSINT:[process][pid]:int}#%{NONNEGINT:[process][thread][id]:int}: (?:\*%{NONNEGINT:[nginx][error][connection_id]:int} )?%{GREEDYDATA:message}";
    let line = r#"2024/03/05 17:01:02 [error] 2871#2871: *16 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 192.168.0.10, server: localhost, request: "GET /favicon.ico HTTP/1.1", host: "example.com""#;
    check(
        V1,
        p,
        line,
        json!({
            "timestamp": "2024/03/05 17:01:02", "log.level": "error", "process.pid": 2871,
            "process.thread.id": 2871, "nginx.error.connection_id": 16,
            "message": "open() \"/usr/share/nginx/html/favicon.ico\" failed (2: No such file or directory), client: 192.168.0.10, server: localhost, request: \"GET /favicon.ico HTTP/1.1\", host: \"example.com\"",
        }),
    );
}

#[test]
fn syslog_rfc3164() {
    let line = "Mar  7 09:15:02 web01 sshd[4242]: Accepted publickey for deploy from 10.1.2.3 port 52514 ssh2";
    check(
        V1,
        "%{SYSLOGLINE}",
        line,
        json!({
            "timestamp": "Mar  7 09:15:02", "host.hostname": "web01", "process.name": "sshd",
            "process.pid": 4242, "message": "Accepted publickey for deploy from 10.1.2.3 port 52514 ssh2",
        }),
    );
    check(
        LEGACY,
        "%{SYSLOGLINE}",
        line,
        json!({
            "timestamp": "Mar  7 09:15:02", "logsource": "web01", "program": "sshd", "pid": "4242",
            "message": "Accepted publickey for deploy from 10.1.2.3 port 52514 ssh2",
        }),
    );
    let with_pri =
        "Oct 11 22:14:15 <34.2> mymachine su: 'su root' failed for lonvick on /dev/pts/8";
    check(
        V1,
        "%{SYSLOGBASE} %{GREEDYDATA:message}",
        with_pri,
        json!({
            "log.syslog.facility.code": 34, "log.syslog.priority": 2, "host.hostname": "mymachine",
            "process.name": "su",
        }),
    );
    check(
        LEGACY,
        "%{SYSLOGBASE}",
        with_pri,
        json!({"facility": "34", "priority": "2", "logsource": "mymachine", "program": "su"}),
    );
    let cron = "Jan  2 03:04:05 host1 CRON[999]: (root) CMD (run-parts /etc/cron.hourly)";
    check(
        V1,
        "%{CRONLOG}",
        cron,
        json!({"user.name": "root", "system.cron.action": "CMD", "message": "run-parts /etc/cron.hourly"}),
    );
    check(
        LEGACY,
        "%{CRONLOG}",
        cron,
        json!({"user": "root", "action": "CMD"}),
    );
    let pam = "Jan  2 03:04:05 host1 sshd[1]: pam_unix(sshd:session): session opened for user alice by (uid=0)";
    check(
        V1,
        "%{SYSLOGPAMSESSION}",
        pam,
        json!({
            "system.auth.pam.module": "pam_unix", "system.auth.pam.origin": "sshd:session",
            "system.auth.pam.session_state": "opened", "user.name": "alice",
            "message": "pam_unix(sshd:session): session opened for user alice by (uid=0)",
        }),
    );
    check(
        LEGACY,
        "%{SYSLOGPAMSESSION}",
        pam,
        json!({"pam_module": "pam_unix", "username": "alice", "pam_by": "(uid=0)"}),
    );
}

#[test]
fn syslog_rfc5424() {
    let line = r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event log entry"#;
    check(
        V1,
        "%{SYSLOG5424LINE}",
        line,
        json!({
            "log.syslog.priority": 165, "system.syslog.version": "1",
            "timestamp": "2003-10-11T22:14:15.003Z", "host.hostname": "mymachine.example.com",
            "process.name": "evntslog", "event.code": "ID47",
            "system.syslog.structured_data": r#"[exampleSDID@32473 iut="3" eventSource="Application"]"#,
            "message": "An application event log entry",
        }),
    );
    check(
        LEGACY,
        "%{SYSLOG5424LINE}",
        line,
        json!({
            "syslog5424_pri": "165", "syslog5424_ver": "1", "syslog5424_ts": "2003-10-11T22:14:15.003Z",
            "syslog5424_host": "mymachine.example.com", "syslog5424_app": "evntslog",
            "syslog5424_msgid": "ID47", "syslog5424_msg": "An application event log entry",
        }),
    );
}

#[test]
fn java_stack_trace() {
    let line = "\tat com.example.orders.OrderService.place(OrderService.java:42)";
    check(
        V1,
        "%{JAVASTACKTRACEPART}",
        line,
        json!({
            "java.log.origin.class.name": "com.example.orders.OrderService",
            "log.origin.function": "place", "log.origin.file.name": "OrderService.java",
            "log.origin.file.line": 42,
        }),
    );
    check(
        LEGACY,
        "%{JAVASTACKTRACEPART}",
        line,
        json!({
            "class": "com.example.orders.OrderService", "method": "place", "file": "OrderService.java", "line": "42",
        }),
    );
    check(
        V1,
        "%{JAVASTACKTRACEPART}",
        "    at java.lang.Thread.<init>(Unknown Source)",
        json!({
            "log.origin.function": "<init>", "log.origin.file.name": "Unknown Source",
        }),
    );
    // A whole multi-line event: Ruby's (?m) lets `.` cross lines; ^ is a line anchor.
    let event = "2024-01-02 03:04:05,123 ERROR com.example.Svc - boom\njava.lang.IllegalStateException: bad state\n\tat com.example.Svc.run(Svc.java:10)\n\tat java.lang.Thread.run(Thread.java:750)";
    let p = r"(?m)^%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} %{JAVACLASS:logger} - (?<msg>[^\n]*)\n^(?<exception>%{JAVACLASS}): %{GREEDYDATA:stack}";
    check(
        LEGACY,
        p,
        event,
        json!({
            "level": "ERROR", "logger": "com.example.Svc", "msg": "boom",
            "exception": "java.lang.IllegalStateException",
            "stack": "bad state\n\tat com.example.Svc.run(Svc.java:10)\n\tat java.lang.Thread.run(Thread.java:750)",
        }),
    );
    check(
        V1,
        "%{CATALINA8_LOG}",
        "31-Jul-2020 16:40:38.578 INFO [main] org.apache.catalina.startup.Catalina.start Server startup in 1234 ms",
        json!({
            "log.level": "INFO", "java.log.origin.thread.name": "main",
            "java.log.origin.class.name": "org.apache.catalina.startup.Catalina",
            "log.origin.function": "start", "message": "Server startup in 1234 ms",
        }),
    );
    check(
        LEGACY,
        "%{TOMCATLOG}",
        "2014-01-09 20:03:28,269 -0800 | ERROR | com.example.service.ExampleService - something unexpected",
        json!({
            "level": "ERROR", "class": "com.example.service.ExampleService", "logmessage": "something unexpected",
        }),
    );
}

#[test]
fn haproxy() {
    let http = r#"Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1""#;
    check(
        V1,
        "%{HAPROXYHTTP}",
        http,
        json!({
            "timestamp": "Feb  6 12:14:14", "host.hostname": "localhost", "process.name": "haproxy",
            "process.pid": 14389, "source.address": "10.0.1.2", "source.port": 33317,
            "haproxy.request_date": "06/Feb/2009:12:14:14.655", "haproxy.frontend_name": "http-in",
            "haproxy.backend_name": "static", "haproxy.server_name": "srv1",
            "haproxy.http.request.time_wait_ms": 10, "haproxy.total_waiting_time_ms": 0,
            "haproxy.connection_wait_time_ms": 30, "haproxy.http.request.time_wait_without_data_ms": 69,
            "haproxy.total_time_ms": "109", "http.response.status_code": 200, "source.bytes": 2750,
            "haproxy.termination_state": "----", "haproxy.connections.active": 1,
            "haproxy.connections.retries": 0, "haproxy.server_queue": 0,
            "haproxy.http.request.captured_headers": "1wt.eu", "http.request.method": "GET",
            "url.original": "/index.html", "url.path": "/index.html", "http.version": "1.1",
        }),
    );
    check(
        LEGACY,
        "%{HAPROXYHTTP}",
        http,
        json!({
            "syslog_timestamp": "Feb  6 12:14:14", "syslog_server": "localhost", "program": "haproxy",
            "client_ip": "10.0.1.2", "client_port": "33317", "accept_date": "06/Feb/2009:12:14:14.655",
            "haproxy_monthday": "06", "haproxy_month": "Feb", "haproxy_year": "2009",
            "haproxy_hour": "12", "haproxy_milliseconds": "655", "frontend_name": "http-in",
            "backend_name": "static", "server_name": "srv1", "time_request": "10", "time_queue": "0",
            "time_backend_connect": "30", "time_backend_response": "69", "time_duration": "109",
            "http_status_code": "200", "bytes_read": "2750", "captured_request_cookie": "-",
            "termination_state": "----", "actconn": "1", "retries": "0", "srv_queue": "0",
            "captured_request_headers": "1wt.eu", "http_verb": "GET", "http_request": "/index.html",
            "http_version": "1.1",
        }),
    );
    let tcp = "Feb  6 12:12:56 localhost haproxy[14387]: 10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/srv1 0/0/5007 212 -- 0/0/0/0/3 0/0";
    check(
        V1,
        "%{HAPROXYTCP}",
        tcp,
        json!({
            "source.address": "10.0.1.2", "haproxy.frontend_name": "fnt", "haproxy.server_name": "srv1",
            "haproxy.total_time_ms": "5007", "source.bytes": 212, "haproxy.connections.retries": 3,
        }),
    );
    check(
        LEGACY,
        "%{HAPROXYTCP}",
        tcp,
        json!({"client_ip": "10.0.1.2", "time_duration": "5007", "bytes_read": "212", "retries": "3"}),
    );
}

#[test]
fn postgresql() {
    let line = "2014-04-23 06:40:32.211 UTC postgres [unknown] 5357e0a0.3062 12386";
    // DATESTAMP is DATE_US or DATE_EU, so it finds "14-04-23 …" inside the ISO date, as in
    // Logstash.
    check(
        V1,
        "%{POSTGRESQL}",
        line,
        json!({
            "timestamp": "14-04-23 06:40:32.211", "event.timezone": "UTC", "user.name": "postgres",
            "postgresql.log.connection_id": "[unknown] 5357e0a0.3062", "process.pid": 12386,
        }),
    );
    check(
        LEGACY,
        "%{POSTGRESQL}",
        line,
        json!({"user_id": "postgres", "pid": "12386"}),
    );
}

#[test]
fn redis_mongodb_ruby_rails_mcollective_maven() {
    let r = "[4018] 14 Nov 07:01:22.119 * Background saving terminated with success";
    check(
        V1,
        "%{REDISLOG}",
        r,
        json!({"process.pid": 4018, "timestamp": "14 Nov 07:01:22.119"}),
    );
    check(
        LEGACY,
        "%{REDISLOG}",
        r,
        json!({"pid": "4018", "timestamp": "14 Nov 07:01:22.119"}),
    );
    let m = r#"1470637867.953466 [0 195.168.1.1:52500] "info""#;
    check(
        V1,
        "%{REDISMONLOG}",
        m,
        json!({"timestamp": "1470637867.953466", "redis.database.id": "0", "client.ip": "195.168.1.1", "client.port": 52500, "redis.command.name": "info"}),
    );
    check(
        LEGACY,
        "%{REDISMONLOG}",
        m,
        json!({"database": "0", "client": "195.168.1.1", "port": "52500", "command": "info"}),
    );

    let mongo3 = "2020-08-13T11:58:09.672+0200 I NETWORK  [conn1] end connection 127.0.0.1:41554 (1 connection now open)";
    check(
        V1,
        "%{MONGO3_LOG}",
        mongo3,
        json!({"log.level": "I", "mongodb.component": "NETWORK", "mongodb.context": "conn1", "message": "end connection 127.0.0.1:41554 (1 connection now open)"}),
    );
    check(
        LEGACY,
        "%{MONGO3_LOG}",
        mongo3,
        json!({"severity": "I", "component": "NETWORK", "context": "conn1"}),
    );
    let slow = r#"query test.users query: { name: "x" } ntoreturn:0 ntoskip:0 nscanned:10 keyUpdates:0 nreturned:1 reslen:50 120ms"#;
    check(
        V1,
        "%{MONGO_SLOWQUERY}",
        slow,
        json!({"mongodb.database": "test", "mongodb.collection": "users", "mongodb.query.original": r#"{ name: "x" }"#, "mongodb.profile.nscanned": 10, "mongodb.profile.nreturned": 1, "mongodb.profile.duration": 120}),
    );
    check(
        LEGACY,
        "%{MONGO_SLOWQUERY}",
        slow,
        json!({"database": "test", "query": r#"{ name: "x" }"#, "nreturned": "1", "duration": "120"}),
    );

    let ruby = "I, [2014-01-10T14:00:00.123456 #1234]  INFO -- app: started";
    check(
        V1,
        "%{RUBY_LOGGER}",
        ruby,
        json!({"process.pid": 1234, "log.level": "INFO", "process.name": "app", "message": "started"}),
    );
    check(
        LEGACY,
        "%{RUBY_LOGGER}",
        ruby,
        json!({"pid": "1234", "loglevel": "INFO", "progname": "app"}),
    );

    let rails = r#"Started GET "/users?id=1" for 127.0.0.1 at 2024-01-02 03:04:05 +0000"#;
    check(
        V1,
        "%{RAILS3HEAD}",
        rails,
        json!({"http.request.method": "GET", "url.original": "/users?id=1", "source.address": "127.0.0.1", "timestamp": "2024-01-02 03:04:05 +0000"}),
    );
    check(
        LEGACY,
        "%{RAILS3HEAD}",
        rails,
        json!({"verb": "GET", "request": "/users?id=1", "clientip": "127.0.0.1"}),
    );
    check(
        V1,
        "%{RCONTROLLER}",
        "UsersController#show",
        json!({"rails.controller.class": "UsersController", "rails.controller.action": "show"}),
    );
    check(
        LEGACY,
        "%{RCONTROLLER}",
        "UsersController#show",
        json!({"controller": "UsersController", "action": "show"}),
    );

    let mc = "I, [2010-12-29T11:15:32.321744 #11479]  INFO -- : mcollectived:33";
    check(
        V1,
        "%{MCOLLECTIVE}",
        mc,
        json!({"process.pid": 11479, "log.level": "INFO"}),
    );
    check(
        LEGACY,
        "%{MCOLLECTIVE}",
        mc,
        json!({"pid": "11479", "event_level": "INFO"}),
    );
    check(
        LEGACY,
        "^%{MAVEN_VERSION:v}$",
        "3.9.6-SNAPSHOT",
        json!({"v": "3.9.6-SNAPSHOT"}),
    );
    check(
        V1,
        "^%{MAVEN_VERSION:v}$",
        "1.0.RELEASE",
        json!({"v": "1.0.RELEASE"}),
    );
}

#[test]
fn squid_aws_bind() {
    let squid = "1525344856.899 16867 10.170.72.111 TCP_TUNNEL/200 6256 CONNECT logs.example.com:443 - HIER_DIRECT/10.1.2.3 -";
    check(
        V1,
        "%{SQUID3}",
        squid,
        json!({"squid.request.duration": 16867, "source.ip": "10.170.72.111", "event.action": "TCP_TUNNEL", "http.response.status_code": 200, "http.response.bytes": 6256, "http.request.method": "CONNECT", "url.original": "logs.example.com:443", "squid.hierarchy_code": "HIER_DIRECT", "destination.address": "10.1.2.3"}),
    );
    check(
        LEGACY,
        "%{SQUID3}",
        squid,
        json!({"duration": "16867", "client_address": "10.170.72.111", "cache_result": "TCP_TUNNEL", "status_code": "200", "server": "10.1.2.3"}),
    );

    let elb = r#"2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000086 0.001048 0.001337 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.38.0" DHE-RSA-AES128-SHA TLSv1.2"#;
    check(
        V1,
        "%{ELB_ACCESS_LOG}",
        elb,
        json!({"aws.elb.name": "my-loadbalancer", "source.ip": "192.168.131.39", "source.port": 2817, "aws.elb.backend.ip": "10.0.0.1", "aws.elb.backend.port": 80, "aws.elb.request_processing_time.sec": 0.000086, "http.response.status_code": 200, "http.response.body.bytes": 57, "http.request.method": "GET", "url.original": "https://www.example.com:443/", "url.scheme": "https", "url.domain": "www.example.com", "url.port": 443, "url.path": "/", "http.version": "1.1", "user_agent.original": "curl/7.38.0", "tls.cipher": "DHE-RSA-AES128-SHA", "aws.elb.ssl_protocol": "TLSv1.2"}),
    );
    check(
        LEGACY,
        "%{ELB_ACCESS_LOG}",
        elb,
        json!({"elb": "my-loadbalancer", "clientip": "192.168.131.39", "clientport": 2817, "backendip": "10.0.0.1", "response": 200, "request_processing_time": 0.000086, "verb": "GET", "proto": "https", "urihost": "www.example.com:443", "path": "/"}),
    );

    let bind = "17-Feb-2018 23:06:56.326 queries: info: client 172.26.0.1#12345 (test.example.com): query: test.example.com IN A +E(0)K (172.26.0.2)";
    check(
        V1,
        "%{BIND9}",
        bind,
        json!({"timestamp": "17-Feb-2018 23:06:56.326", "bind.log.category": "queries", "log.level": "info", "client.ip": "172.26.0.1", "client.port": 12345, "bind.log.question.name": "test.example.com", "dns.question.name": "test.example.com", "dns.question.class": "IN", "dns.question.type": "A", "bind.log.question.flags": "+E(0)K", "server.ip": "172.26.0.2"}),
    );
    check(
        LEGACY,
        "%{BIND9}",
        bind,
        json!({"loglevel": "info", "clientip": "172.26.0.1", "query": ["test.example.com", "test.example.com"], "querytype": "A +E(0)K", "dns": "172.26.0.2"}),
    );
}

#[test]
fn exim_junos_nagios_bacula() {
    let exim = r#"2020-02-11 17:09:46 1j1Z0o-00Fjv3-1Y <= sender@example.com H=mail.example.com [10.1.2.3]:12345 P=esmtps S=1234 id=abc@example.com T="Hello there" for rcpt@example.org"#;
    check(
        V1,
        "%{EXIM}",
        exim,
        json!({"timestamp": "2020-02-11 17:09:46", "exim.log.message.id": "1j1Z0o-00Fjv3-1Y", "exim.log.flags": "<=", "exim.log.sender.email": "sender@example.com", "source.address": "mail.example.com", "source.ip": "10.1.2.3", "source.port": 12345, "network.protocol": "esmtps", "exim.log.message.body.size": 1234, "exim.log.header_id": "abc@example.com", "exim.log.message.subject": "Hello there", "exim.log.recipient.email": "rcpt@example.org"}),
    );
    check(
        LEGACY,
        "%{EXIM_DATE} %{EXIM_MSGID:msgid} %{EXIM_FLAGS:flags} %{EMAILADDRESS:from} %{EXIM_REMOTE_HOST} %{EXIM_PROTOCOL} %{EXIM_MSG_SIZE}",
        exim,
        json!({"exim_year": "2020", "msgid": "1j1Z0o-00Fjv3-1Y", "flags": "<=", "remote_hostname": "mail.example.com", "remote_host": "10.1.2.3", "remote_port": "12345", "protocol": "esmtps", "exim_msg_size": "1234"}),
    );

    let junos = "RT_FLOW_SESSION_DENY: session denied 10.0.0.1/1234->10.0.0.2/80 junos-http 6(0) default-deny trust untrust UNKNOWN UNKNOWN N/A(N/A) ge-0/0/1.0";
    check(
        V1,
        "%{RT_FLOW3}",
        junos,
        json!({"juniper.srx.tag": "RT_FLOW_SESSION_DENY", "source.ip": "10.0.0.1", "source.port": 1234, "destination.ip": "10.0.0.2", "destination.port": 80, "juniper.srx.service_name": "junos-http", "network.iana_number": "6", "rule.name": "default-deny", "observer.ingress.zone": "trust", "observer.egress.zone": "untrust"}),
    );
    check(
        LEGACY,
        "%{RT_FLOW3}",
        junos,
        json!({"event": "RT_FLOW_SESSION_DENY", "src-ip": "10.0.0.1", "dst-port": "80", "policy-name": "default-deny", "from-zone": "trust"}),
    );

    let nagios =
        "[1427925600] CURRENT SERVICE STATE: host1;PING;OK;HARD;1;PING OK - Packet loss = 0%";
    check(
        V1,
        "%{NAGIOSLOGLINE}",
        nagios,
        json!({"timestamp": "1427925600", "nagios.log.type": "CURRENT SERVICE STATE", "host.hostname": "host1", "service.name": "PING", "service.state": "OK", "nagios.log.state_type": "HARD", "message": "PING OK - Packet loss = 0%"}),
    );
    check(
        LEGACY,
        "%{NAGIOSLOGLINE}",
        nagios,
        json!({"nagios_epoch": "1427925600", "nagios_type": "CURRENT SERVICE STATE", "nagios_hostname": "host1", "nagios_service": "PING", "nagios_state": "OK", "nagios_statetype": "HARD", "nagios_statecode": "1", "nagios_message": "PING OK - Packet loss = 0%"}),
    );

    let bacula = "01-Jan 12:34 backup-dir JobId 1234: Start Backup JobId 1234, Job=nightly.2024-01-01_12.34.00_01";
    check(
        V1,
        "%{BACULA_LOGLINE}",
        bacula,
        json!({"timestamp": "01-Jan 12:34", "host.hostname": "backup-dir", "bacula.job.id": 1234, "bacula.job.name": "nightly.2024-01-01_12.34.00_01"}),
    );
    check(
        LEGACY,
        "%{BACULA_LOGLINE}",
        bacula,
        json!({"bts": "01-Jan 12:34", "hostname": "backup-dir", "jobid": "1234", "job": "nightly.2024-01-01_12.34.00_01"}),
    );
}

#[test]
fn bro_zeek_firewalls() {
    let conn = "1300475167.096535\tCRkwqY2ZExd\t141.142.220.202\t5353\t224.0.0.251\t5353\tudp\tdns\t0.000000\t0\t0\tS0\t-\t0\tD\t1\t73\t0\t0\t(empty)";
    for name in ["BRO_CONN", "ZEEK_CONN"] {
        let p = format!("%{{{name}}}");
        check(
            V1,
            &p,
            conn,
            json!({"timestamp": "1300475167.096535", "zeek.session_id": "CRkwqY2ZExd", "source.ip": "141.142.220.202", "source.port": 5353, "destination.ip": "224.0.0.251", "network.transport": "udp", "event.duration": 0.0, "source.bytes": 0}),
        );
        check(
            LEGACY,
            &p,
            conn,
            json!({"ts": "1300475167.096535", "uid": "CRkwqY2ZExd", "orig_h": "141.142.220.202", "orig_p": "5353", "proto": "udp", "service": "dns", "conn_state": "S0"}),
        );
    }
    let asa = r#"Deny tcp src outside:192.168.1.1/1234 dst inside:10.0.0.1/80 by access-group "OUTSIDE" [0x0, 0x0]"#;
    check(
        V1,
        "%{CISCOFW106023}",
        asa,
        json!({"cisco.asa.outcome": "Deny", "cisco.asa.network.transport": "tcp", "observer.ingress.interface.name": "outside", "source.ip": "192.168.1.1", "source.port": 1234, "observer.egress.interface.name": "inside", "destination.ip": "10.0.0.1", "destination.port": 80, "cisco.asa.rule_name": "OUTSIDE"}),
    );
    check(
        LEGACY,
        "%{CISCOFW106023}",
        asa,
        json!({"action": "Deny", "protocol": "tcp", "src_interface": "outside", "src_ip": "192.168.1.1", "src_port": "1234", "dst_ip": "10.0.0.1", "policy_id": "OUTSIDE"}),
    );
    let tagged = "<166>Jan 12 2024 10:00:00 fw01 : %ASA-6-302013: Built outbound TCP connection";
    check(
        LEGACY,
        "%{CISCO_TAGGED_SYSLOG} %{GREEDYDATA:cisco_message}",
        tagged,
        json!({"syslog_pri": "166", "timestamp": "Jan 12 2024 10:00:00", "sysloghost": "fw01", "ciscotag": "ASA-6-302013", "cisco_message": "Built outbound TCP connection"}),
    );
}

#[test]
fn base_patterns() {
    for ecs in [V1, LEGACY] {
        check(
            ecs,
            "%{IPV6:ip}",
            "addr fe80::1%eth0 up",
            json!({"ip": "fe80::1%eth0 up"}),
        );
        check(
            ecs,
            "%{IPV6:ip} ",
            "addr 2001:db8::8a2e:370:7334 up",
            json!({"ip": "2001:db8::8a2e:370:7334"}),
        );
        check(
            ecs,
            "%{IPV6:ip}$",
            "::ffff:192.0.2.128",
            json!({"ip": "::ffff:192.0.2.128"}),
        );
        check(
            ecs,
            "%{URI:u}",
            "see https://user:pw@example.com:8443/a/b?c=d&e=f#x",
            json!({"u": "https://user:pw@example.com:8443/a/b?c=d&e=f#x"}),
        );
        check(
            ecs,
            "%{UUID:id}",
            "id=123e4567-e89b-12d3-a456-426614174000;",
            json!({"id": "123e4567-e89b-12d3-a456-426614174000"}),
        );
        check(
            ecs,
            "%{MAC:m}",
            "hw 00:1A:2b:3c:4D:5e",
            json!({"m": "00:1A:2b:3c:4D:5e"}),
        );
        check(
            ecs,
            "%{MAC:m}",
            "hw 001a.2b3c.4d5e",
            json!({"m": "001a.2b3c.4d5e"}),
        );
        check(
            ecs,
            "%{EMAILADDRESS:e}",
            "to: first.last+tag@mail.example.org",
            json!({"e": "first.last+tag@mail.example.org"}),
        );
        check(
            ecs,
            "%{TIMESTAMP_ISO8601:t}",
            "at 2024-02-29T23:59:58.123+05:30 ok",
            json!({"t": "2024-02-29T23:59:58.123+05:30"}),
        );
        check(
            ecs,
            "%{DATESTAMP_RFC2822:t}",
            "Fri, 21 Nov 1997 09:55:06 -0600",
            json!({"t": "Fri, 21 Nov 1997 09:55:06 -0600"}),
        );
        check(ecs, "%{LOGLEVEL:l}", "[Warning] x", json!({"l": "Warning"}));
        check(
            ecs,
            "%{BASE16FLOAT:f}",
            "v=0x1A.8 p",
            json!({"f": "0x1A.8"}),
        );
        check(
            ecs,
            "%{UNIXPATH:p}",
            "open /var/log/nginx/access.log now",
            json!({"p": "/var/log/nginx/access.log"}),
        );
        check(
            ecs,
            "%{WINPATH:p}",
            r"C:\Windows\System32\drivers",
            json!({"p": r"C:\Windows\System32\drivers"}),
        );
        check(
            ecs,
            "%{HOSTPORT:hp}",
            "connect db-1.internal:5432",
            json!({"hp": "db-1.internal:5432"}),
        );
        check(
            ecs,
            "%{SYSLOGTIMESTAMP:t}",
            "Jan  1 00:00:00",
            json!({"t": "Jan  1 00:00:00"}),
        );
        no_match(ecs, "^%{IPV4}$", "256.1.1.1");
        no_match(ecs, "^%{POSINT}$", "0");
        no_match(ecs, "%{IPV4}", "1234.5.6.7");
    }
}
