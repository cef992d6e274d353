namespace EmailPlatform.Status.Storage;

/// <summary>What an email id tells by itself: the ingress makes version 7 ids, whose first 48 bits are the time of the accept.</summary>
internal static class EmailIds
{
    /// <summary>When a version 7 id was made (its first 48 bits, milliseconds since the Unix epoch); null for another version, whose bits hold no time.</summary>
    public static DateTimeOffset? MadeAt(Guid id)
    {
        if (id.Version != 7)
        {
            return null;
        }

        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        var milliseconds = 0L;
        foreach (var b in bytes[..6])
        {
            milliseconds = (milliseconds << 8) | b;
        }

        // 48 bits reach past the year 9999: such an id is from no clock.
        return milliseconds <= DateTimeOffset.MaxValue.ToUnixTimeMilliseconds() ? DateTimeOffset.FromUnixTimeMilliseconds(milliseconds) : DateTimeOffset.MaxValue;
    }
}
