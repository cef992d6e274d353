namespace EmailPlatform.Contracts;

/// <summary>The SMTP envelope: <c>MAIL FROM</c> and one <c>RCPT TO</c> per entry.</summary>
public sealed record Envelope(string MailFrom, IReadOnlyList<string> RcptTo);
