package browsertest

// The seed reference's jQuery forms and PHP handlers (send.php, sendAjax.php),
// statement for statement, with the comments rewritten.

const formsHTML = `
<form id='myform' action="/send.php" method="POST">
    <input type="text" name='name' value='' placeholder="Name" /><br>
    <input type="text" name='phone' value='' placeholder="Phone" /><br>
    <input type="text" name='email' value='' placeholder="E-mail" /><br>
    <textarea name="text"></textarea><br>
    <input type='button' value='Send' onclick="formSubmit()"/>
    <input type="hidden" name='key'/>
    <input type="hidden" name='uri'/>
    <input type="hidden" name='visitor_id'/>
    <input type="hidden" name='hit_id'/>
    <input type="hidden" name='session_id'/>
    <input type="hidden" name='consultant_server_url'/>
</form>
<form id='myform2'>
    <input type="text" name='name' value='' placeholder="Name" /><br>
    <input type="text" name='phone' value='' placeholder="Phone" /><br>
    <input type="text" name='email' value='' placeholder="E-mail" /><br>
    <textarea name="text"></textarea><br>
    <input type='button' value='Send' onclick="sendAjaxSubmit()"/>
</form>
<script>
function formSubmit() {
    var credentials = Comagic.getCredentials();
    for (var field in credentials) {
        if (credentials.hasOwnProperty(field)){
            $('[name='+field+']').val(credentials[field]);
        }
    }
    $('#myform').submit();
}
function sendAjaxSubmit() {
    $.ajax({
        url: '/sendAjax.php',
        method: 'POST',
        data: $('#myform2').serialize(),
        complete: function(response) {
            if (response.readyState === 4 && response.status === 200) {
                alert(response.responseText);
            }
        },
        beforeSend: function(jqXHR, settings) {
            var credentials = Comagic.getCredentials();
            settings.data += '&' + $.param(credentials);
        }
    })
}
</script>`

// sendPHP is the reference's send.php handler (page-reload variant).
const sendPHP = `<? /* The site's own handling of the request would be here. */ ?>
<?
    $url = $_POST['consultant_server_url'].'api/add_offline_message/';
          $data = array(
            'key' => $_POST['key'],
            'uri' => $_POST['uri'],
            'visitor_id' => $_POST['visitor_id'],
            'hit_id' => $_POST['hit_id'],
            'session_id' => $_POST['session_id'],
            'name' => $_POST['name'],
            'email' => $_POST['email'],
            'phone' => $_POST['phone'],
            'text' => $_POST['text'],
            'is_sale' => true,
            'sale_cost' => 10000
            );
    $options = array( 'http' =>
        array(
            'header' => "Content-type: application/x-www-form-urlencoded; charset=UTF-8",
            'method' => "POST",
            'content' => http_build_query($data)
        )
    );
    print $options['http']['content'];
    $context = stream_context_create($options);
    $result = file_get_contents($url, false, $context);
    $resultArray = json_decode($result, true);

    if ($result === false or $resultArray['success'] === false) {
        /* Error handling of the site would be here. */
    }
?>
`

// sendAjaxPHP is the reference's sendAjax.php handler (AJAX variant).
const sendAjaxPHP = `<?
    /* The site's own handling of the request would be here. */
?>
<?
    $success = true;
    if ($success) {
        $url = $_POST['consultant_server_url'].'api/add_offline_message/';
        $data = array(
            'key' => $_POST['key'],
            'uri' => $_POST['uri'],
            'visitor_id' => $_POST['visitor_id'],
            'hit_id' => $_POST['hit_id'],
            'session_id' => $_POST['session_id'],
            'name' => $_POST['name'],
            'email' => $_POST['email'],
            'phone' => $_POST['phone'],
            'text' => $_POST['text'],
            'is_sale' => true,
            'sale_cost' => 10000
        );
        $options = array(
            'http' => array(
                'header' => "Content-type: application/x-www-form-urlencoded; charset=UTF-8",
                'method' => "POST",
                'content' => http_build_query($data)
            )
        );
        $context = stream_context_create($options);
        $result = file_get_contents($url, false, $context);
        $resultArray = json_decode($result, true);
        if ($result === false or $resultArray['success' === false]) {
            /* Error handling of the site would be here. */
        } else {
            print 'Заявка успешно сохранена.';
        }
    } else {
        print 'Произошла непредвиденная ошибка';
    }
?>
`
