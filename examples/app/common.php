<?php
/*
 * common.php - shared by the pages of the demo application.
 *
 * Each back end is a `php -S` server started with its own session
 * directory (session.save_path) and the environment:
 *   BACKEND_NAME         this back end's name, e.g. "server1"
 *   SHARED_DIR           the upload directory every back end shares, as the
 *                        guide's back ends share /opt/processmaker/shared
 *   SET_BALANCEID_ROUTE  optional, e.g. "server1": send the cookie
 *                        BALANCEID=balancer.server1 on every response, the
 *                        guide's RewriteRule .* - [CO=BALANCEID:...]
 *   BALANCEID_DOMAIN     optional domain for that cookie (the guide's
 *                        FRONTEND-DOMAIN); none by default
 */

function backend_name(): string
{
    $name = getenv('BACKEND_NAME');
    return $name === false || $name === '' ? 'unnamed' : $name;
}

/* This back end's own address, as the proxy reaches it. */
function backend_base(): string
{
    return 'http://127.0.0.1:' . (int)$_SERVER['SERVER_PORT'];
}

function shared_dir(): ?string
{
    $dir = getenv('SHARED_DIR');
    if ($dir === false || $dir === '' || !is_dir($dir)) {
        return null;
    }
    return $dir;
}

function h($text): string
{
    return htmlspecialchars((string)$text, ENT_QUOTES | ENT_SUBSTITUTE,
                            'UTF-8');
}

/* Start the session and send the guide's route cookie when asked to. */
function app_start(): void
{
    $route = getenv('SET_BALANCEID_ROUTE');
    if ($route !== false && $route !== '') {
        $domain = getenv('BALANCEID_DOMAIN');
        setcookie('BALANCEID', 'balancer.' . $route, [
            'path' => '/',
            'domain' => $domain === false ? '' : $domain,
        ]);
    }
    session_start();
}

function logged_in(): bool
{
    return isset($_SESSION['user']);
}

/* Count one more visit of a logged-in user; returns the new count. */
function count_visit(): int
{
    $_SESSION['counter'] = ($_SESSION['counter'] ?? 0) + 1;
    return $_SESSION['counter'];
}

/* Log user in when the password is "demo"; returns false if refused. */
function log_in(string $user, string $password): bool
{
    $user = trim($user);
    if ($user === '' || $password !== 'demo') {
        return false;
    }
    session_regenerate_id(true);
    $_SESSION['user'] = $user;
    $_SESSION['counter'] = 0;
    $_SESSION['login_backend'] = backend_name();
    return true;
}

function log_out(): void
{
    $_SESSION = [];
    session_destroy();
    setcookie(session_name(), '', ['expires' => 1, 'path' => '/']);
}

/* Absolute redirect to this back end's own address: the proxy's
 * ProxyPassReverse must turn it into the front end's. */
function redirect(string $path): void
{
    header('Location: ' . backend_base() . $path, true, 303);
    exit;
}

/* The files in the shared directory: name => [size, uploaded by]. */
function shared_files(): array
{
    $dir = shared_dir();
    $out = [];
    if ($dir === null) {
        return $out;
    }
    foreach (scandir($dir) as $f) {
        if ($f[0] === '.' || !is_file("$dir/$f")) {
            continue;
        }
        $by = @file_get_contents("$dir/.by-$f");
        $out[$f] = [filesize("$dir/$f"), $by === false ? '?' : $by];
    }
    return $out;
}

/* Store an uploaded file in the shared directory; returns an error or
 * null. */
function store_upload(array $file): ?string
{
    $dir = shared_dir();
    if ($dir === null) {
        return 'no shared directory (SHARED_DIR) on ' . backend_name();
    }
    if (($file['error'] ?? UPLOAD_ERR_NO_FILE) !== UPLOAD_ERR_OK) {
        return 'upload failed (error ' . (int)($file['error'] ?? -1) . ')';
    }
    $name = preg_replace('/[^A-Za-z0-9._-]/', '_', basename($file['name']));
    $name = ltrim($name, '.');
    if ($name === '') {
        return 'bad file name';
    }
    if (!move_uploaded_file($file['tmp_name'], "$dir/$name")) {
        return 'could not store the file';
    }
    file_put_contents("$dir/.by-$name", backend_name());
    return null;
}
