<?php
/* logout.php - end the session and go back to the log-in form. */
require __DIR__ . '/common.php';

app_start();
log_out();
redirect('/index.php');
