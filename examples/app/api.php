<?php
/*
 * api.php - the same state as JSON, for tests and curl:
 *   GET  /api.php    counts one visit when logged in, then
 *                    {"backend":..,"port":..,"user":..,"counter":..,
 *                     "session":..}  (user and counter null when not)
 *   POST /api.php    with user=NAME&password=demo: log in (counter 0);
 *                    403 with the same JSON when the password is wrong
 *   POST /api.php    with action=logout: log out
 */
require __DIR__ . '/common.php';

app_start();
$status = 200;

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    if (($_POST['action'] ?? '') === 'logout') {
        log_out();
    } elseif (!log_in($_POST['user'] ?? '', $_POST['password'] ?? '')) {
        $status = 403;
    }
} elseif (logged_in()) {
    count_visit();
}

http_response_code($status);
header('Content-Type: application/json');
header('Cache-Control: no-store');
echo json_encode([
    'backend' => backend_name(),
    'port' => (int)$_SERVER['SERVER_PORT'],
    'user' => $_SESSION['user'] ?? null,
    'counter' => $_SESSION['counter'] ?? null,
    'session' => session_status() === PHP_SESSION_ACTIVE ? session_id()
                                                         : null,
    'path_info' => $_SERVER['PATH_INFO'] ?? null,
    'uri' => $_SERVER['REQUEST_URI'],
]), "\n";
