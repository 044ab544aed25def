//! Throw-away certificate authorities and server certificates for TLS tests, made with the
//! `openssl` command line tool (in every Debian base image).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl req` with a new unencrypted P-256 key written to `key`, then `args`.
fn new_key_and(dir: &Path, key: &str, args: &[&str]) {
    let new_key = [
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
    ];
    openssl(dir, &[&new_key[..], args].concat());
}

/// A self-signed CA: (`{name}.pem`, `{name}.key`) in `dir`.
pub fn make_ca(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (pem, key) = (format!("{name}.pem"), format!("{name}.key"));
    let subject = format!("/CN={name}");
    new_key_and(
        dir,
        &key,
        &[
            "-x509",
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    (dir.join(pem), dir.join(key))
}

/// A certificate for 127.0.0.1 signed by the CA: (`{name}.pem`, `{name}.key`) in `dir`.
pub fn make_server_cert(dir: &Path, ca: &(PathBuf, PathBuf), name: &str) -> (PathBuf, PathBuf) {
    make_cert(
        dir,
        ca,
        name,
        "127.0.0.1",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
}

/// A client certificate (common name `name`) signed by the CA, for mutual TLS:
/// (`{name}.pem`, `{name}.key`) in `dir`.
pub fn make_client_cert(dir: &Path, ca: &(PathBuf, PathBuf), name: &str) -> (PathBuf, PathBuf) {
    make_cert(
        dir,
        ca,
        name,
        name,
        "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
    )
}

fn make_cert(
    dir: &Path,
    ca: &(PathBuf, PathBuf),
    name: &str,
    common_name: &str,
    extensions: &str,
) -> (PathBuf, PathBuf) {
    let (pem, key, csr, ext) = (
        format!("{name}.pem"),
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.ext"),
    );
    std::fs::write(dir.join(&ext), extensions).expect("write ext");
    let subject = format!("/CN={common_name}");
    new_key_and(dir, &key, &["-out", &csr, "-subj", &subject]);
    let (ca_pem, ca_key) = (ca.0.to_string_lossy(), ca.1.to_string_lossy());
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
    (dir.join(pem), dir.join(key))
}
