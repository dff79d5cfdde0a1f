<? /* comagicd's own fixture in the shape of the vendor's page-reload example:
      a site backend forwards the form, with the hidden credential fields that
      Comagic.getCredentials() filled, to add_offline_message and prints what it sent. */ ?>
<?
    $fields = array('key', 'uri', 'visitor_id', 'hit_id', 'session_id', 'name', 'email', 'phone', 'text');
    $lead = array();
    foreach ($fields as $field) {
        $lead[$field] = isset($_POST[$field]) ? $_POST[$field] : '';
    }
    $lead['is_sale'] = true;   // a closed deal ...
    $lead['sale_cost'] = 10000; // ... of this amount
    $body = http_build_query($lead);
    print $body;
    $target = $_POST['consultant_server_url'] . 'api/add_offline_message/';
    $context = stream_context_create(array('http' => array(
        'method' => 'POST',
        'header' => "Content-type: application/x-www-form-urlencoded; charset=UTF-8",
        'content' => $body,
        'ignore_errors' => true,
    )));
    $answer = @file_get_contents($target, false, $context);
    $decoded = json_decode($answer, true);
    if ($answer === false || !is_array($decoded) || $decoded['success'] !== true) {
        /* the lead was refused: a real site would log it or mail it */
    }
?>
