//! Kubernetes metadata from the file names kubelet gives container logs under
//! /var/log/containers: `<pod>_<namespace>_<container>-<64 hex container id>.log`.

use std::path::Path;

use crate::event::K8sPod;

/// The pod, namespace and container a container log file belongs to; `None` for a name
/// that is not laid out as kubelet lays them out.
pub(crate) fn from_path(path: &Path) -> Option<K8sPod> {
    let name = path.file_name()?.to_str()?.strip_suffix(".log")?;
    let (rest, id) = name.rsplit_once('-')?;
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut parts = rest.split('_');
    let (pod, namespace, container) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    // DNS names: lower-case letters, digits, `-` and (pods) `.`; at most 253 bytes.
    let dns = |s: &str, dot: bool| {
        !s.is_empty()
            && s.len() <= 253
            && s.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (dot && b == b'.')
            })
    };
    if !(dns(pod, true) && dns(namespace, false) && dns(container, false)) {
        return None;
    }
    Some(K8sPod {
        pod: pod.to_owned(),
        namespace: namespace.to_owned(),
        container: container.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c2e9a8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e";

    #[test]
    fn kubelet_names_are_parsed() {
        let p = format!("/var/log/containers/web-7f9c4d-x2bq_shop_nginx-{ID}.log");
        let m = from_path(Path::new(&p)).unwrap();
        assert_eq!(m.pod, "web-7f9c4d-x2bq");
        assert_eq!(m.namespace, "shop");
        assert_eq!(m.container, "nginx");
        let p = format!("/x/coredns-5d78c9869d-abcde_kube-system_coredns-{ID}.log");
        assert_eq!(from_path(Path::new(&p)).unwrap().namespace, "kube-system");
    }

    #[test]
    fn other_names_are_ignored() {
        for bad in [
            "/var/log/syslog".to_owned(),
            format!("/c/web_shop_nginx-{ID}.txt"),
            format!("/c/web_shop-{ID}.log"),
            format!("/c/web_shop_nginx_x-{ID}.log"),
            "/c/web_shop_nginx-abc.log".to_owned(),
            format!("/c/Web_shop_nginx-{ID}.log"),
            format!("/c/_shop_nginx-{ID}.log"),
        ] {
            assert!(from_path(Path::new(&bad)).is_none(), "{bad}");
        }
    }
}
