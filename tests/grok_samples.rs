//! Real sample lines (Apache, nginx, syslog, Java, HAProxy, PostgreSQL) with the fields each
//! naming set must yield.

use serde_json::{Value, json};

mod grok_support;
use grok_support::{LEGACY, V1, check};

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
