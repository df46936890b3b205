//! TLS to PostgreSQL, as to a managed database: `sslmode=require` in `DATABASE_URL` and the service's
//! CA in `DATABASE_CA_FILE`. The cluster presents a certificate for 127.0.0.1 signed by a CA made here.

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use reqwest::StatusCode;
use serde_json::json;
use ticket_exchange::db::Connector;

use crate::support::postgres::PrivateCluster;
use crate::support::process::ServerProcess;

struct Pki {
    ca: String,
    certificate: String,
    key: String,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Managed PostgreSQL test CA");
    let ca_key = KeyPair::generate().expect("CA key");
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let key = KeyPair::generate().expect("key");
    let certificate = params.signed_by(&key, &ca, &ca_key).expect("certificate");
    Pki { ca: ca.pem(), certificate: certificate.pem(), key: key.serialize_pem() }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sslmode_require_every_connection_is_encrypted_and_the_certificate_is_checked() {
    let pki = pki();
    let cluster = PrivateCluster::start_with_tls(&pki.certificate, &pki.key);
    let mut admin = AsyncPgConnection::establish(&cluster.url("postgres")).await.expect("connect");
    diesel::sql_query("CREATE DATABASE app").execute(&mut admin).await.expect("create database");
    let ca_file = std::env::temp_dir().join(format!("ticket-exchange-ca-{}.pem", uuid::Uuid::new_v4().simple()));
    std::fs::write(&ca_file, &pki.ca).expect("CA file");
    let url = format!("{}?sslmode=require", cluster.url("app"));

    // A server that does not trust the database's CA refuses to talk to it.
    let untrusting = Connector::new(&url, None).expect("connector");
    let refused = untrusting.connect().await.err().expect("an unknown CA is refused");
    assert!(refused.to_string().contains("TLS"), "{refused}");

    // With the CA, the server migrates and serves over TLS only.
    let ca = ca_file.display().to_string();
    let server = ServerProcess::start(&url, &[("DATABASE_CA_FILE", ca.as_str()), ("BACKGROUND_JOBS", "false")]).await;
    let client = reqwest::Client::new();
    let registered: serde_json::Value = client
        .post(format!("{}/api/users/register", server.base_url))
        .json(&json!({"email": "seller@example.com", "password": "correct horse battery", "termsAccepted": true}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("session");
    let created = client
        .post(format!("{}/api/tickets", server.base_url))
        .bearer_auth(registered["token"].as_str().expect("token"))
        .json(&crate::support::listing("Encrypted gala", 9_000))
        .send()
        .await
        .expect("send");
    assert_eq!(created.status(), StatusCode::CREATED);
    let plain: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.datname = 'app' AND a.pid <> pg_backend_pid() AND NOT s.ssl",
    )
    .get_result(&mut admin)
    .await
    .expect("plain connections");
    let encrypted: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.datname = 'app' AND s.ssl",
    )
    .get_result(&mut admin)
    .await
    .expect("encrypted connections");
    assert!(encrypted.count >= 1, "the server's connections are encrypted");
    assert_eq!(plain.count, 0, "and none of them is plain");
    let _ = std::fs::remove_file(&ca_file);
}
