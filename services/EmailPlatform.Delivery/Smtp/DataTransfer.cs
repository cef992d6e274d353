using System.Diagnostics;
using EmailPlatform.Delivery.Relays;
using MailKit;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>
/// Bounds one mail transaction in time and follows its message data (MailKit reports it as it writes). The client's
/// timeout bounds each read and write only, so a relay that answers a little at a time (a line of a multi-line reply
/// every few seconds) or reads the message a little at a time would otherwise hold the connection, and the claim,
/// for ever. So the whole transaction gets <see cref="Deadline"/>: <see cref="DeliveryOptions.LongestTransaction"/>
/// from <c>MAIL FROM</c>, the bound <c>Delivery:ClaimLease</c> is checked against, and from the moment the data starts,
/// <c>Delivery:DataTimeout</c> for writing the message and waiting for the reply to its final dot, unless less of the
/// first bound is left. When the data starts, the connection's timeout also becomes <c>Delivery:DataTimeout</c>, so a
/// relay may take that long over the final dot. It knows whether the whole message went out, which makes a failure
/// after it (the deadline included) an unknown outcome rather than a plain transport fault. The caller sets the
/// command timeout back when the send is over, and disposes of this.
/// </summary>
internal sealed class DataTransfer : ITransferProgress, IDisposable
{
    private readonly RecipientRecordingSmtpClient _client;
    private readonly TimeSpan _dataTimeout;
    private readonly TimeSpan _longest;
    private readonly long _began = Stopwatch.GetTimestamp();
    private readonly CancellationTokenSource _deadline;
    private long _total = -1;
    private long _sent;
    private bool _dataStarted;

    public DataTransfer(RecipientRecordingSmtpClient client, DeliveryOptions options)
    {
        _client = client;
        _dataTimeout = options.DataTimeout;
        _longest = options.LongestTransaction;
        _deadline = new CancellationTokenSource(_longest);
    }

    /// <summary>
    /// Cancelled when the transaction has run out of time. It is not linked to the consume's token: a transaction past
    /// <c>MAIL FROM</c> is finished, not abandoned, when the worker stops.
    /// </summary>
    public CancellationToken Deadline => _deadline.Token;

    /// <summary>The message data had started: from then on the connection waits up to <c>Delivery:DataTimeout</c>.</summary>
    public bool DataStarted => _dataStarted;

    /// <summary>The transaction ran out of time as a whole (<see cref="Deadline"/>), rather than one read or write.</summary>
    public bool Expired => _deadline.IsCancellationRequested;

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

    public void Dispose() => _deadline.Dispose();

    private void Started()
    {
        if (_dataStarted)
        {
            return;
        }

        _dataStarted = true;
        _client.Timeout = (int)_dataTimeout.TotalMilliseconds;
        if (_dataTimeout < _longest - Stopwatch.GetElapsedTime(_began))
        {
            _deadline.CancelAfter(_dataTimeout);
        }
    }
}
