"""Installing and packaging balancer (issue 6).

`make install` into a staging directory, the man page, the systemd unit,
`make deb` and the package installed and purged on this machine, and every
front-end configuration shown in docs/deploy.md and examples/ checked with
`balancer -t`.

The packaging does not depend on which binary the other integration tests
run, so those tests run once, in the run on build/balancer; in the ASan
run ($BALANCER_BIN set) they are skipped, with that reason. The deploy
guide's configurations run live on the binary under test in both runs.
"""
import glob
import os
import re
import shutil
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Marks the tests that run once, in the run on build/balancer.
once = pytest.mark.skipif(
    bool(os.environ.get("BALANCER_BIN")),
    reason="packaging is tested in the run on build/balancer, not the "
           "ASan run")

EXPECTED_FILES = {
    # path under DESTDIR (PREFIX=/usr): mode
    "usr/sbin/balancer": 0o755,
    "usr/share/man/man8/balancer.8": 0o644,
    "etc/balancer/balancer.conf": 0o644,
    "lib/systemd/system/balancer.service": 0o644,
    "etc/logrotate.d/balancer": 0o644,
}


def run(cmd, **kw):
    """Run cmd, return the CompletedProcess (text, both streams kept)."""
    kw.setdefault("cwd", ROOT)
    return subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **kw)


def check(cmd, **kw):
    """Run cmd; fail the test with its output when it fails."""
    p = run(cmd, **kw)
    assert p.returncode == 0, "%s exited %d\nstdout:\n%s\nstderr:\n%s" % (
        " ".join(cmd), p.returncode, p.stdout, p.stderr)
    return p


def make_version():
    p = check(["make", "-s", "-p", "-n", "-f", "Makefile", "clean"])
    m = re.search(r"^VERSION :?= (\S+)$", p.stdout, re.M)
    assert m, "no VERSION in the Makefile"
    return m.group(1)


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """make install DESTDIR=<tmp> PREFIX=/usr; returns DESTDIR."""
    dest = str(tmp_path_factory.mktemp("destdir"))
    check(["make", "install", "DESTDIR=" + dest, "PREFIX=/usr"])
    return dest


@once
def test_install_lays_out_the_files(staged):
    for rel, mode in EXPECTED_FILES.items():
        path = os.path.join(staged, rel)
        assert os.path.isfile(path), "make install did not install /" + rel
        assert os.stat(path).st_mode & 0o777 == mode, rel
    assert os.path.isdir(os.path.join(staged, "etc/balancer/conf.d"))

    with open(os.path.join(staged, "lib/systemd/system/balancer.service")) \
            as f:
        unit = f.read()
    assert "ExecStart=/usr/sbin/balancer -f /etc/balancer/balancer.conf" \
        in unit
    assert "@" not in unit.replace("@system-service", "").replace(
        "~@privileged", ""), "a placeholder was left in the unit"


@once
def test_install_default_prefix_is_usr_local(tmp_path):
    check(["make", "install", "DESTDIR=%s" % tmp_path])
    assert os.path.isfile(tmp_path / "usr/local/sbin/balancer")
    assert os.path.isfile(tmp_path / "usr/local/share/man/man8/balancer.8")
    assert os.path.isfile(tmp_path / "etc/balancer/balancer.conf")
    unit = (tmp_path / "lib/systemd/system/balancer.service").read_text()
    assert "ExecStart=/usr/local/sbin/balancer -f" in unit


@once
def test_installed_binary_checks_installed_configuration(staged):
    p = check([os.path.join(staged, "usr/sbin/balancer"), "-t", "-f",
               os.path.join(staged, "etc/balancer/balancer.conf")])
    assert "Syntax OK" in p.stdout + p.stderr


@once
def test_install_keeps_a_changed_configuration(tmp_path):
    check(["make", "install", "DESTDIR=%s" % tmp_path])
    conf = tmp_path / "etc/balancer/balancer.conf"
    conf.write_text(conf.read_text() + "\n# changed by the operator\n")
    check(["make", "install", "DESTDIR=%s" % tmp_path])
    assert conf.read_text().endswith("# changed by the operator\n")
    assert (tmp_path / "etc/balancer/balancer.conf.new").is_file()


@once
def test_uninstall_removes_what_install_put(tmp_path):
    check(["make", "install", "DESTDIR=%s" % tmp_path, "PREFIX=/usr"])
    check(["make", "uninstall", "DESTDIR=%s" % tmp_path, "PREFIX=/usr"])
    left = [os.path.relpath(os.path.join(d, f), str(tmp_path))
            for d, _, files in os.walk(str(tmp_path)) for f in files]
    assert left == [], "left behind: %s" % left
    assert not (tmp_path / "etc/balancer").exists()


@once
def test_uninstall_keeps_a_changed_configuration(tmp_path):
    check(["make", "install", "DESTDIR=%s" % tmp_path])
    conf = tmp_path / "etc/balancer/balancer.conf"
    conf.write_text("Listen 8080\n")
    check(["make", "uninstall", "DESTDIR=%s" % tmp_path])
    assert conf.read_text() == "Listen 8080\n"
    assert not (tmp_path / "usr/local/sbin/balancer").exists()


@once
def test_logrotate_accepts_the_installed_file(staged, tmp_path):
    p = check(["logrotate", "-d", "-s", str(tmp_path / "state"),
               os.path.join(staged, "etc/logrotate.d/balancer")])
    out = p.stdout + p.stderr
    assert "error:" not in out, out
    assert "rotating pattern: /var/log/balancer/*.log" in out, out


# --- the man page ---------------------------------------------------------

MAN = os.path.join(ROOT, "packaging", "balancer.8")


@once
def test_man_page_has_no_groff_warnings():
    p = run(["groff", "-ww", "-man", "-z", MAN])
    assert p.returncode == 0 and p.stderr == "", p.stderr


def render_man(path, width=80):
    """man -l path as plain text, and its warnings (groff -w w)."""
    env = dict(os.environ, MANWIDTH=str(width), MANPAGER="cat",
               PAGER="cat")
    p = run(["man", "--warnings=w", "-l", path], env=env)
    return p.returncode, re.sub(r".\x08", "", p.stdout), p.stderr


@once
def test_man_page_renders_with_man():
    rc, text, warnings = render_man(MAN)
    assert rc == 0 and warnings == "", warnings
    for section in ("NAME", "SYNOPSIS", "OPTIONS", "DIRECTIVES", "FILES",
                    "SIGNALS", "EXIT STATUS", "SEE ALSO"):
        assert re.search(r"^%s$" % section, text, re.M), section


@once
def test_versions_agree():
    """The Makefile, debian/changelog and balancer(8) name one version."""
    version = make_version()
    with open(MAN) as f:
        assert '"balancer %s"' % version in f.read()
    p = check(["dpkg-parsechangelog", "-S", "Version"])
    assert p.stdout.strip() == version


@once
def test_man_warnings_would_be_seen(tmp_path):
    """The two checks above can fail: a page with a bad request warns."""
    bad = tmp_path / "bad.8"
    bad.write_text(".TH BAD 8\n.SH NAME\nbad \\- bad\n.BOGUS x\n")
    p = run(["groff", "-ww", "-man", "-z", str(bad)])
    assert "BOGUS" in p.stderr
    assert "BOGUS" in render_man(str(bad))[2]


def config_source():
    """The configuration reader's C source (src/config*.c)."""
    text = ""
    for path in sorted(glob.glob(os.path.join(ROOT, "src", "config*.c"))):
        with open(path) as f:
            text += f.read()
    return text


def documented_directives():
    """Every directive in the directive table (src/config*.c), every
    section it opens, and every directive docs/configuration.md names (in
    a heading or at the start of a table row), when that file exists."""
    src = config_source()
    names = set(re.findall(r'^\s*\{ "([A-Z][A-Za-z]+)", "', src, re.M))
    names |= set(re.findall(r'strcasecmp\(name, "([A-Z][A-Za-z]+)"\) == 0',
                            src))
    path = os.path.join(ROOT, "docs", "configuration.md")
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
        names |= set(re.findall(r"^#+\s+`<?([A-Z][A-Za-z]+)", text, re.M))
        names |= set(re.findall(r"^\|\s*`<?([A-Z][A-Za-z]+)", text, re.M))
    return names


def documented_parameters():
    """Every balancer and member parameter in the parameter tables
    (src/config*.c) and in docs/configuration.md's tables."""
    names = set(re.findall(r'^\s*\{ "([a-z]+)", set_\w+ \}',
                           config_source(), re.M))
    path = os.path.join(ROOT, "docs", "configuration.md")
    if os.path.exists(path):
        with open(path) as f:
            names |= set(re.findall(r"^\|\s*`([a-z]+)`\s*\|", f.read(),
                                    re.M))
    return names


def man_text():
    rc, text, warnings = render_man(MAN, width=200)
    assert rc == 0, warnings
    return text


@once
def test_man_page_covers_every_documented_directive():
    names = documented_directives()
    assert len(names) >= 15, "too few directives found in the docs: %s" % \
        sorted(names)
    text = man_text()
    missing = sorted(n for n in names
                     if not re.search(r"^\s+<?%s\b" % n, text, re.M))
    assert not missing, "balancer(8) describes no %s" % missing


@once
def test_man_page_covers_every_documented_parameter():
    names = documented_parameters()
    assert len(names) >= 15, sorted(names)
    text = man_text()
    missing = sorted(n for n in names
                     if not re.search(r"^\s+%s=" % n, text, re.M))
    assert not missing, "balancer(8) describes no %s=" % missing


@once
def test_man_page_covers_every_option():
    """Every option in the usage message is in the man page."""
    p = run(["build/balancer", "-h"])
    usage = p.stdout + p.stderr
    opts = set(re.findall(r"(?<![\w-])-([a-zA-Z])\b", usage))
    assert {"f", "t", "v"} <= opts, usage
    text = man_text()
    missing = sorted(o for o in opts
                     if not re.search(r"^\s+-%s\b" % o, text, re.M))
    assert not missing, "balancer(8) lacks options %s" % missing


# --- the systemd unit ---------------------------------------------------

@once
def test_unit_passes_systemd_analyze_verify(staged, tmp_path):
    """systemd-analyze verify needs the unit's programs at their paths;
    the staged binary is not in /usr/sbin, so a copy of the unit that
    points at it is verified (the installed package's own unit is verified
    unchanged in test_deb_installs_and_purges)."""
    unit = os.path.join(staged, "lib/systemd/system/balancer.service")
    with open(unit) as f:
        text = f.read()
    text = text.replace("/usr/sbin/balancer",
                        os.path.join(staged, "usr/sbin/balancer"))
    copy = tmp_path / "balancer.service"
    copy.write_text(text)
    env = dict(os.environ,
               MANPATH=os.path.join(staged, "usr/share/man") + ":")
    p = run(["systemd-analyze", "verify", str(copy)], env=env)
    assert p.returncode == 0 and p.stderr == "", p.stderr


@once
def test_unit_is_hardened(staged):
    unit = os.path.join(staged, "lib/systemd/system/balancer.service")
    p = check(["systemd-analyze", "security", "--offline=yes", unit])
    m = re.search(r"Overall exposure level for \S+: ([\d.]+)", p.stdout)
    assert m and float(m.group(1)) <= 3.0, p.stdout[-400:]


@once
def test_unit_checks_the_configuration_before_start_and_reload(staged):
    unit = os.path.join(staged, "lib/systemd/system/balancer.service")
    with open(unit) as f:
        lines = [ln.strip() for ln in f]
    check_cmd = "/usr/sbin/balancer -t -f /etc/balancer/balancer.conf"
    assert "ExecStartPre=" + check_cmd in lines
    reload = [ln for ln in lines if ln.startswith("ExecReload=")]
    assert reload == ["ExecReload=" + check_cmd,
                      "ExecReload=/bin/kill -HUP $MAINPID"]


# --- the Debian package -------------------------------------------------

@pytest.fixture(scope="module")
def deb():
    check(["make", "deb"])
    version = make_version()
    debs = glob.glob(os.path.join(ROOT, "build/deb",
                                  "balancer_%s_*.deb" % version))
    assert len(debs) == 1, os.listdir(os.path.join(ROOT, "build/deb"))
    assert not os.path.exists(os.path.join(ROOT, "build/deb/src"))
    return debs[0]


@once
def test_deb_lists_the_files(deb):
    listing = check(["dpkg", "-c", deb]).stdout
    for path in ("./usr/sbin/balancer", "./lib/systemd/system/balancer.service",
                 "./usr/share/man/man8/balancer.8.gz",
                 "./etc/balancer/balancer.conf", "./etc/balancer/conf.d/",
                 "./etc/logrotate.d/balancer",
                 "./usr/share/doc/balancer/copyright"):
        assert re.search(r"\s%s$" % re.escape(path), listing, re.M), \
            "%s not in the package:\n%s" % (path, listing)


@once
def test_deb_marks_the_configuration_as_conffile(deb, tmp_path):
    check(["dpkg-deb", "-e", deb, str(tmp_path / "control")])
    conffiles = (tmp_path / "control/conffiles").read_text().split()
    assert "/etc/balancer/balancer.conf" in conffiles
    assert "/etc/logrotate.d/balancer" in conffiles
    info = check(["dpkg-deb", "-f", deb, "Package", "Version"]).stdout
    assert "Package: balancer" in info
    assert "Version: %s" % make_version() in info
    postinst = (tmp_path / "control/postinst").read_text()
    assert "deb-systemd-helper enable 'balancer.service'" in postinst


def man_pages_excluded():
    """True when dpkg is told not to install manual pages (some minimal
    container images do that); the package still ships it, as
    test_deb_lists_the_files checks."""
    for path in glob.glob("/etc/dpkg/dpkg.cfg.d/*"):
        with open(path, errors="replace") as f:
            if re.search(r"^path-exclude=?\s*/usr/share/man", f.read(),
                         re.M):
                return True
    return False


def package_installed():
    p = run(["dpkg-query", "-W", "-f", "${Status}", "balancer"])
    return p.returncode == 0 and "installed" in p.stdout


@once
def test_deb_installs_and_purges(deb):
    """dpkg -i, use it, dpkg -r, dpkg --purge, on this machine.

    Safe here: where systemd is not PID 1 (a container) the maintainer
    scripts only enable the unit and start nothing; where it is, the
    service starts on port 80 as Debian services do, and the purge at the
    end stops and removes it. A balancer package that was installed
    before the test is left alone (the test is skipped, saying so)."""
    if package_installed():
        pytest.skip("a balancer package is installed on this machine; "
                    "not replacing it")
    try:
        check(["dpkg", "-i", deb])
        assert package_installed()

        p = check(["/usr/sbin/balancer", "-t", "-f",
                   "/etc/balancer/balancer.conf"])
        assert "Syntax OK" in p.stdout + p.stderr
        p = run(["systemd-analyze", "verify",
                 "/lib/systemd/system/balancer.service"])
        assert p.returncode == 0 and p.stderr == "", p.stderr
        if not man_pages_excluded():
            assert check(["man", "-w", "balancer"]).stdout.strip() == \
                "/usr/share/man/man8/balancer.8.gz"
        if not os.path.isdir("/run/systemd/system"):
            # deb-systemd-helper enabled it for the next boot.
            assert os.path.islink("/etc/systemd/system/multi-user.target."
                                  "wants/balancer.service")

        check(["dpkg", "-r", "balancer"])
        assert not os.path.exists("/usr/sbin/balancer")
        assert not os.path.exists("/lib/systemd/system/balancer.service")
        assert os.path.exists("/etc/balancer/balancer.conf"), \
            "dpkg -r must keep the conffile"

        check(["dpkg", "--purge", "balancer"])
        assert not os.path.exists("/etc/balancer")
        assert not os.path.exists("/etc/logrotate.d/balancer")
        assert not os.path.lexists("/etc/systemd/system/multi-user.target."
                                   "wants/balancer.service")
        assert not package_installed()
    finally:
        if package_installed() or os.path.exists("/etc/balancer"):
            run(["dpkg", "--purge", "balancer"])


# --- configurations in the docs and examples ----------------------------

def deploy_blocks():
    """Every ```apache / ```conf block of docs/deploy.md that is a
    front-end configuration (it has a ProxyPass or a Listen)."""
    path = os.path.join(ROOT, "docs", "deploy.md")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read()
    blocks = re.findall(r"^```(?:apache|conf)\n(.*?)^```", text,
                        re.M | re.S)
    return [b for b in blocks if re.search(r"^\s*(ProxyPass|Listen)\b", b,
                                           re.M)]


@once
def test_deploy_guide_has_front_end_configurations():
    assert len(deploy_blocks()) >= 2


@once
@pytest.mark.parametrize("block", deploy_blocks())
def test_deploy_guide_configuration_checks(block, tmp_path):
    conf = tmp_path / "front.conf"
    conf.write_text(block)
    p = run(["build/balancer", "-t", "-f", str(conf)])
    assert p.returncode == 0, "docs/deploy.md block:\n%s\n%s" % (
        block, p.stdout + p.stderr)
    assert "Syntax OK" in p.stdout + p.stderr


@once
@pytest.mark.parametrize("name", ["processmaker.conf"])
def test_example_configuration_checks(name):
    p = run(["build/balancer", "-t", "-f",
             os.path.join("examples", name)])
    assert p.returncode == 0 and "Syntax OK" in p.stdout + p.stderr, \
        p.stdout + p.stderr


@once
def test_default_configuration_checks():
    p = run(["build/balancer", "-t", "-f", "packaging/balancer.conf"])
    assert p.returncode == 0 and "Syntax OK" in p.stdout + p.stderr, \
        p.stdout + p.stderr


# --- the deploy guide's configurations, run ------------------------------

def live_conf(block, backends):
    """A deploy.md block made to run here: the guide's back-end addresses
    replaced by the PHP back ends', port 80 and the log paths by the
    fixture's placeholders."""
    text = re.sub(r"^Listen 80$", "Listen 127.0.0.1:@PORT@", block,
                  flags=re.M)
    text = text.replace("http://192.168.1.10", backends[0].url)
    text = text.replace("http://192.168.1.25", backends[1].url)
    text = text.replace("/var/log/balancer/error.log", "@ERRORLOG@")
    text = text.replace("/var/log/balancer/access.log", "@ACCESSLOG@")
    assert "@PORT@" in text and "192.168.1." not in text, text
    return text


@pytest.mark.parametrize("block", deploy_blocks())
def test_deploy_guide_configuration_keeps_users_on_their_back_end(
        block, balancer, php_app):
    """Each front-end configuration of docs/deploy.md, on two PHP back ends
    (which set BALANCEID the guide's way unless the block has balancer
    insert it): a logged-in user stays on one back end, and the access
    log explains it as section 8 says."""
    import http.cookiejar
    import json
    import urllib.parse
    import urllib.request

    insert = "stickysessioninsert=On" in block
    explain = "decision=" in block
    backends = php_app(2, set_route=not insert)
    conf = live_conf(block, backends)
    if explain:                     # section 8: "set LogLevel debug"
        conf = conf.replace("LogLevel warn", "LogLevel debug")
    b = balancer(conf)

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar))
    login = urllib.parse.urlencode({"user": "alice",
                                    "password": "demo"}).encode()
    first = json.load(opener.open(b.url + "/api.php", login, timeout=10))
    assert first["user"] == "alice"
    for i in range(1, 11):
        r = json.load(opener.open(b.url + "/api.php", timeout=10))
        assert r["backend"] == first["backend"], r
        assert r["counter"] == i, r
    assert any(c.name == "BALANCEID" for c in jar)

    if explain:
        lines = []
        for _ in range(50):         # the access log is written per turn
            lines = b.access().splitlines()
            if len(lines) >= 11:
                break
            time.sleep(0.1)
        assert len(lines) == 11, lines
        assert "decision=lbmethod" in lines[0]
        for line in lines[1:]:
            assert "decision=sticky" in line, line
            assert "worker_route=%s" % first["backend"] in line, line
        debug = [ln for ln in b.errors().splitlines()
                 if "[proxy_balancer:debug]" in ln]
        assert "no sticky value for BALANCEID" in debug[0], debug
        assert "-> sticky" in debug[-1], debug
