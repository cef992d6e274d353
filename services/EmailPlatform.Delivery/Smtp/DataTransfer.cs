using MailKit;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>
/// Follows the message data of one send (MailKit reports it as it writes): when the data starts, the connection's
/// timeout becomes <c>Delivery:DataTimeout</c>, which then also bounds the wait for the reply to the final dot; and it
/// knows whether the whole message went out, which makes a failure after it an unknown outcome rather than a plain
/// transport fault. The caller sets the command timeout back when the send is over.
/// </summary>
internal sealed class DataTransfer(RecipientRecordingSmtpClient client, TimeSpan dataTimeout) : ITransferProgress
{
    private long _total = -1;
    private long _sent;

    /// <summary>Every byte of the message was written: only the reply to the final dot was missing.</summary>
    public bool WholeMessageSent => _total > 0 && _sent >= _total;

    public void Report(long bytesTransferred, long totalSize)
    {
        Started();
        _total = totalSize;
        _sent = bytesTransferred;
    }

    public void Report(long bytesTransferred)
    {
        Started();
        _sent = bytesTransferred;
    }

    private void Started()
    {
        if (_sent == 0)
        {
            client.Timeout = (int)dataTimeout.TotalMilliseconds;
        }
    }
}
