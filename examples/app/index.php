<?php
/*
 * index.php - log-in form, or the user's page: who is logged in, a visit
 * counter kept in the PHP session, the back end serving the request, and
 * the upload directory that every back end shares.
 */
require __DIR__ . '/common.php';

app_start();
$error = null;

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $action = $_POST['action'] ?? '';
    if ($action === 'login') {
        if (log_in($_POST['user'] ?? '', $_POST['password'] ?? '')) {
            redirect('/index.php');
        }
        $error = 'Wrong password: it is "demo".';
    } elseif ($action === 'upload' && logged_in()) {
        $error = store_upload($_FILES['file'] ?? []);
        if ($error === null) {
            redirect('/index.php');
        }
    }
}

$user = $_SESSION['user'] ?? null;
$count = $user === null ? null : count_visit();
$files = shared_files();
?>
<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>balancer demo - <?= h(backend_name()) ?></title>
<style>
body { font-family: sans-serif; margin: 2em; max-width: 45em; }
.backend { font-size: 1.6em; padding: .4em; background: #eef; }
.error { color: #a00; }
td, th { padding: .2em .8em; text-align: left; }
</style>
</head>
<body>
<p class="backend">Served by <b><?= h(backend_name()) ?></b>
(port <?= (int)$_SERVER['SERVER_PORT'] ?>)</p>
<?php if ($error !== null): ?>
<p class="error"><?= h($error) ?></p>
<?php endif; ?>
<?php if ($user === null): ?>
<h1>Log in</h1>
<form method="post" action="/index.php">
<input type="hidden" name="action" value="login">
<p>User <input name="user" autofocus></p>
<p>Password <input name="password" type="password">
(any user name; the password is <code>demo</code>)</p>
<p><button>Log in</button></p>
</form>
<?php else: ?>
<h1>Hello, <?= h($user) ?></h1>
<table>
<tr><th>Visits in this session</th><td><b><?= (int)$count ?></b></td></tr>
<tr><th>Logged in on</th>
<td><?= h($_SESSION['login_backend'] ?? '?') ?></td></tr>
<tr><th>Session id</th><td><code><?= h(session_id()) ?></code></td></tr>
<tr><th>BALANCEID cookie</th>
<td><code><?= h($_COOKIE['BALANCEID'] ?? '(none)') ?></code></td></tr>
</table>
<p>Reload: the counter goes up and the back end stays the same while the
session is sticky. If it resets, or you are logged out, the request went
to the other back end, which does not have this session.</p>
<p><a href="/index.php">Reload</a> · <a href="/logout.php">Log out</a></p>

<h2>Shared uploads</h2>
<form method="post" action="/index.php" enctype="multipart/form-data">
<input type="hidden" name="action" value="upload">
<input type="file" name="file"> <button>Upload</button>
</form>
<?php endif; ?>
<?php if ($files): ?>
<table>
<tr><th>File</th><th>Bytes</th><th>Uploaded through</th></tr>
<?php foreach ($files as $name => [$size, $by]): ?>
<tr><td><?= h($name) ?></td><td><?= (int)$size ?></td>
<td><?= h($by) ?></td></tr>
<?php endforeach; ?>
</table>
<?php endif; ?>
<p><small>Upload directory shared by every back end:
<code><?= h(shared_dir() ?? '(none)') ?></code></small></p>
</body>
</html>
