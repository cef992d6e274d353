namespace EmailPlatform.Status.Suppressions;

/// <summary>Configuration section <c>Status:Suppression</c>.</summary>
public sealed class SuppressionOptions
{
    public const string SectionName = "Status:Suppression";

    /// <summary>5.1.1 bad mailbox, 5.1.2 bad domain, 5.1.10 null MX, 5.2.1 mailbox disabled.</summary>
    public static readonly IReadOnlyList<string> DefaultHardBounceCodes = ["5.1.1", "5.1.2", "5.1.10", "5.2.1"];

    /// <summary>
    /// Enhanced status codes of a bounce that suppress the address: an exact code (<c>5.1.1</c>) or a class and
    /// subject (<c>5.1</c>, any detail but the sender's: see <see cref="SenderAddressDetails"/>).
    /// </summary>
    public string[]? HardBounceCodes { get; set; }

    /// <summary>
    /// The address-status details about the sender, not the recipient (RFC 3463: X.1.7 bad sender's mailbox address
    /// syntax, X.1.8 bad sender's system address), which a class entry (<c>5.1</c>) does not take in: a relay refusing
    /// our sender's domain answers one of them for every recipient (Postfix's <c>reject_unknown_sender_domain</c>
    /// answers 5.1.8 at RCPT TO), and suppressing them all for good would punish the recipients for the sender's fault.
    /// Listed exactly, they suppress as listed.
    /// </summary>
    private static readonly string[] SenderAddressDetails = ["1.7", "1.8"];

    public IReadOnlyList<string> Codes => HardBounceCodes is { Length: > 0 } codes ? codes : DefaultHardBounceCodes;

    public bool Suppresses(string? enhancedCode) =>
        enhancedCode is not null && Codes.Any(c => enhancedCode == c || InClass(enhancedCode, c));

    private static bool InClass(string enhancedCode, string entry) =>
        entry.Count(ch => ch == '.') == 1 && enhancedCode.StartsWith(entry + ".", StringComparison.Ordinal)
        && !SenderAddressDetails.Contains(enhancedCode[(enhancedCode.IndexOf('.', StringComparison.Ordinal) + 1)..], StringComparer.Ordinal);
}
