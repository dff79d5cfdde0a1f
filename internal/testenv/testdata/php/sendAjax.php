<? /* comagicd's own fixture in the shape of the vendor's AJAX example: the
      page posts the form with XHR, the backend forwards it to
      add_offline_message and answers a line that the page alerts. */ ?>
<?
    $fields = array('key', 'uri', 'visitor_id', 'hit_id', 'session_id', 'name', 'email', 'phone', 'text');
    $lead = array('is_sale' => true, 'sale_cost' => 10000);
    foreach ($fields as $field) {
        $lead[$field] = isset($_POST[$field]) ? $_POST[$field] : '';
    }
    $context = stream_context_create(array('http' => array(
        'method' => 'POST',
        'header' => "Content-type: application/x-www-form-urlencoded; charset=UTF-8",
        'content' => http_build_query($lead),
        'ignore_errors' => true,
    )));
    $answer = @file_get_contents($_POST['consultant_server_url'] . 'api/add_offline_message/', false, $context);
    $decoded = json_decode($answer, true);
    if ($answer !== false && is_array($decoded) && $decoded['success'] === true) {
        print 'Заявка успешно сохранена.';
    } else {
        print 'Заявку не удалось сохранить.';
    }
?>
