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
