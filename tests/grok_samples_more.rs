//! Sample lines for the other pattern files (redis, mongodb, ruby, rails, mcollective, maven,
//! squid, aws, bind, exim, junos, nagios, bacula, bro/zeek, firewalls, base) with the fields
//! each naming set must yield.

use serde_json::json;

mod grok_support;
use grok_support::{LEGACY, V1, check, no_match};

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
