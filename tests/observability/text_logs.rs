//! The real binary's text logs, as an operator who redirects them to a file or a pipe
//! sees them: no colour codes, and the development placeholder warning once.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary serving, killed when dropped (also when the test fails).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_loopback_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

/// Every line the service writes to standard output until `until` shows, or 20 s pass.
fn lines_until(lines: &mpsc::Receiver<Vec<u8>>, seen: &mut Vec<Vec<u8>>, until: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => {
                let found = String::from_utf8_lossy(&line).contains(until);
                seen.push(line);
                if found {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

#[test]
fn text_logs_in_a_pipe_have_no_colour_codes_and_warn_about_placeholders_once() {
    let address = free_loopback_port();
    let store = tempfile::tempdir().expect("tempdir");
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_vodsign"))
            .args(["serve", "--config", "config/development.toml"])
            .args(["--listen", &address.to_string()])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            // The upload store in a directory of this test's own, not the checkout's data/.
            .env(
                "VODSIGN_STORE_URL",
                format!("sqlite://{}/uploads.sqlite3", store.path().display()),
            )
            .env("VODSIGN_ADMIN__LISTEN", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vodsign"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if send.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut seen = Vec::new();
    let listening = lines_until(&lines, &mut seen, "vodsign listening");
    if !listening {
        let _ = child.0.kill();
        let mut stderr = String::new();
        let _ = child
            .0
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr);
        panic!(
            "the service did not start: {}\n{stderr}",
            String::from_utf8_lossy(&seen.concat())
        );
    }
    // A request, so a request line is among the lines checked.
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        lines_until(&lines, &mut seen, "request finished"),
        "no request line: {}",
        String::from_utf8_lossy(&seen.concat())
    );

    let all = seen.concat();
    let text = String::from_utf8_lossy(&all);
    assert!(
        !all.contains(&0x1b),
        "ANSI escape codes in piped text logs:\n{text:?}"
    );
    assert_eq!(
        text.matches("DEVELOPMENT PLACEHOLDER CREDENTIALS").count(),
        1,
        "the placeholder warning once:\n{text}"
    );
}
