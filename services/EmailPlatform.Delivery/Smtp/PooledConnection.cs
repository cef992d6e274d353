namespace EmailPlatform.Delivery.Smtp;

/// <summary>One SMTP connection of a relay's pool, with what the pool needs to decide whether to reuse it.</summary>
internal sealed class PooledConnection(RecipientRecordingSmtpClient client, long createdAt)
{
    public RecipientRecordingSmtpClient Client { get; } = client;

    public long CreatedAt { get; } = createdAt;

    /// <summary>Messages sent over it so far.</summary>
    public int Messages { get; set; }

    /// <summary>When it was last handed back to the pool (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long LastUsed { get; set; } = createdAt;
}
