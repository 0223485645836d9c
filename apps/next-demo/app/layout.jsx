// No `metadata.title` here: each page renders its own <title> through <Shell>
// (React hoists it into <head>), so the tab says which page it is.

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <head>
        {/* The stylesheet and icon the Express and Koa demos serve, from route handlers. */}
        <link rel="stylesheet" href="/style.css" />
        <link rel="icon" href="/favicon.ico" />
      </head>
      <body>{children}</body>
    </html>
  );
}
